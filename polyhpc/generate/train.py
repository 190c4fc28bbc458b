"""Training loop and checkpoints of the SMILES generator.

The loop knows nothing about the model beyond ``model(x, y) -> (logits,
loss)`` and ``model.optimizer(...)``; progress, evaluation and checkpoints are
callbacks, so the library never prints. A checkpoint holds weights, model
and training config, vocabulary, optimizer and RNG state in one file; resume
and fine-tuning (a campaign's feedback step) start from one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from polyhpc.errors import ModelError
from polyhpc.generate.config import GeneratorConfig, TrainConfig
from polyhpc.generate.dataset import SequenceBatches, build_training_set
from polyhpc.generate.model import GPT, GPTConfig
from polyhpc.generate.tokenizer import SmilesTokenizer

log = logging.getLogger(__name__)
# 2: optional length conditioning (model_config.length_embedding, length tokens, train keys)
CHECKPOINT_FORMAT = "polyhpc-generator-2"
READABLE_FORMATS = ("polyhpc-generator-1", CHECKPOINT_FORMAT)


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    model: GPT
    tokenizer: SmilesTokenizer
    config: GeneratorConfig
    iteration: int
    optimizer_state: dict | None
    rng_state: torch.Tensor | None
    history: list[dict]
    data_summary: dict


class TrainingInterrupted(ModelError):
    """Training stopped on SIGINT or SIGTERM after writing a checkpoint."""

    def __init__(self, message: str, iteration: int, signum: int):
        super().__init__(message)
        self.iteration = iteration
        self.signum = signum


@dataclass(frozen=True)
class TrainReport:
    """What a training run did."""

    iterations: int
    final_train_loss: float
    final_validation_loss: float
    wall_s: float
    iterations_per_s: float
    n_parameters: int
    data_summary: dict
    checkpoint: str
    start_iteration: int = 0
    resumed_from: str | None = None


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when available; asking for CUDA without it fails loudly."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' requested but torch sees no CUDA device")
    return torch.device(name)


def save_checkpoint(path: Path, checkpoint: Checkpoint, optimizer=None,
                    generator: torch.Generator | None = None) -> None:
    """Write a checkpoint atomically (a killed run never leaves a half file)."""
    from polyhpc.config import to_dict

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_config": dataclasses.asdict(checkpoint.model.config),
        "state_dict": checkpoint.model.state_dict(),
        "vocabulary": checkpoint.tokenizer.itos,
        "config": to_dict(checkpoint.config),
        "iteration": checkpoint.iteration,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "rng_state": generator.get_state() if generator is not None else None,
        "history": checkpoint.history,
        "data_summary": checkpoint.data_summary,
    }
    partial = path.with_suffix(path.suffix + ".part")
    torch.save(payload, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path, device: str = "cpu") -> Checkpoint:
    """Load a checkpoint; a missing, corrupt or foreign file gives a one-line error."""
    from polyhpc.config import load_config

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"checkpoint {path} not found")
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        kind = exc.__class__.__name__
        raise ModelError(f"checkpoint {path} is corrupt or not a torch file ({kind})") from None
    if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith(
            "polyhpc-generator-"):
        raise ModelError(f"{path} is not a polyhpc generator checkpoint")
    if payload["format"] not in READABLE_FORMATS:
        raise ModelError(f"{path} has checkpoint format {payload['format']!r}; this polyhpc "
                         f"reads {', '.join(READABLE_FORMATS)} (upgrade polyhpc or retrain)")
    try:
        model = GPT(GPTConfig(**payload["model_config"]))
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, KeyError) as exc:
        raise ModelError(f"checkpoint {path} has inconsistent weights: {exc}") from None
    return Checkpoint(
        model=model.to(device), tokenizer=SmilesTokenizer(payload["vocabulary"]),
        config=load_config(payload["config"], GeneratorConfig),
        iteration=int(payload["iteration"]), optimizer_state=payload.get("optimizer"),
        rng_state=payload.get("rng_state"), history=list(payload.get("history", [])),
        data_summary=payload.get("data_summary", {}),
    )


@torch.no_grad()
def evaluate_loss(model: GPT, batches: SequenceBatches, device: torch.device,
                  batch_size: int = 256) -> float:
    """Mean token loss over every sequence of ``batches`` (eval mode)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(batches), batch_size):
        indices = list(range(start, min(start + batch_size, len(batches))))
        x, y, extras = batches.collate(indices)
        _, loss = model(x.to(device), y.to(device), **{k: v.to(device) for k, v in extras.items()})
        n = int((y >= 0).sum())
        total += float(loss) * n
        count += n
    model.train(was_training)
    return total / max(count, 1)


def run_training(model: GPT, batches: SequenceBatches, config: TrainConfig,
                 device: torch.device, start_iteration: int = 0,
                 optimizer_state: dict | None = None, rng_state: torch.Tensor | None = None,
                 on_step: Callable[[int, float], None] | None = None,
                 on_eval: Callable[[int], None] | None = None,
                 on_checkpoint: Callable[[int, torch.optim.Optimizer, torch.Generator, bool],
                                         None] | None = None,
                 stop: Callable[[], int] | None = None) -> float:
    """Optimize ``model`` from ``start_iteration`` to ``config.max_iters``; return last loss.

    ``on_checkpoint(iteration, optimizer, generator, snapshot)`` is called every
    ``checkpoint_interval`` iterations and at the end (``snapshot=True``), and
    when ``stop()`` returns a signal number (``snapshot=False``), after which
    :class:`TrainingInterrupted` is raised.
    """
    optimizer = model.optimizer(config.learning_rate, config.betas, config.weight_decay)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    generator = torch.Generator().manual_seed(config.seed)
    if rng_state is not None:
        generator.set_state(rng_state)
    model.train()
    loss_value = float("nan")
    for iteration in range(start_iteration + 1, config.max_iters + 1):
        x, y, extras = batches.sample(config.batch_size, generator)
        _, loss = model(x.to(device), y.to(device), **{k: v.to(device) for k, v in extras.items()})
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_norm_clip)
        optimizer.step()
        loss_value = loss.item()
        if on_step is not None:
            on_step(iteration, loss_value)
        if on_eval is not None and (iteration % config.eval_interval == 0
                                    or iteration == config.max_iters):
            on_eval(iteration)
        due = iteration % config.checkpoint_interval == 0 or iteration == config.max_iters
        if on_checkpoint is not None and due:
            on_checkpoint(iteration, optimizer, generator, True)
        signum = stop() if stop is not None else 0
        if signum:
            if on_checkpoint is not None and not due:
                on_checkpoint(iteration, optimizer, generator, False)
            raise TrainingInterrupted(f"stopped by signal {signum} at iteration {iteration}",
                                      iteration, signum)
    return loss_value


@contextlib.contextmanager
def stop_on_signals(signums=(signal.SIGINT, signal.SIGTERM)):
    """Turn SIGINT/SIGTERM into a request to stop at the next iteration.

    Yields a callable returning the signal number received (0 if none). A
    second signal aborts at once (KeyboardInterrupt). Outside the main thread
    (a Parsl worker thread) signals cannot be caught and nothing is installed.
    """
    received = {"signum": 0}
    if threading.current_thread() is not threading.main_thread():
        yield lambda: 0
        return

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        if received["signum"]:
            raise KeyboardInterrupt
        received["signum"] = signum

    previous = {s: signal.signal(s, handler) for s in signums}
    try:
        yield lambda: received["signum"]
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def train_generator(frame: pd.DataFrame, config: GeneratorConfig, out: Path,
                    init: Path | None = None, resume: bool = False,
                    on_step: Callable[[int, float], None] | None = None) -> TrainReport:
    """Train (or fine-tune, or resume) the generator and write ``out``.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``smiles`` and ``conductivity_mS_per_cm`` of the labelled units.
    config : GeneratorConfig
    out : Path
        Checkpoint written every ``checkpoint_interval`` iterations and at the end;
        also ``out`` with ``-<iteration>`` inserted for each interval (for the grid search).
    init : Path, optional
        Start from these weights and vocabulary (fine-tuning).
    resume : bool
        Continue an interrupted run from ``out`` (weights, optimizer, RNG) when it
        exists; the report's ``resumed_from`` and ``start_iteration`` say so.
    on_step : callable, optional
        Called with (iteration, loss) after each step.

    Raises
    ------
    TrainingInterrupted
        On SIGINT/SIGTERM (main thread only), after writing ``out`` at the
        iteration reached.
    """
    out = Path(out)
    train = config.train
    if train.threads:
        torch.set_num_threads(train.threads)
    torch.manual_seed(train.seed)
    device = resolve_device(train.device)
    dataset = build_training_set(frame, config.data)
    start, optimizer_state, rng_state, history, resumed_from = 0, None, None, [], None
    if resume and out.is_file():
        resumed_from = str(out)
        state = load_checkpoint(out, str(device))
        model, tokenizer = state.model, state.tokenizer
        start, optimizer_state, rng_state = state.iteration, state.optimizer_state, \
            state.rng_state
        history = state.history
        if start >= train.max_iters:
            log.info("checkpoint %s already at iteration %d", out, start)
    elif init is not None:
        state = load_checkpoint(init, str(device))
        model, tokenizer = state.model, state.tokenizer
    else:
        prompted = train.length_conditioning == "prompt"
        tokenizer = SmilesTokenizer.from_corpus(
            [*dataset.smiles, *dataset.validation_smiles],
            n_lengths=train.max_length if prompted else 0)
        countdown = train.max_length if train.length_conditioning == "countdown" else 0
        model = GPT(GPTConfig.from_preset(train.preset, len(tokenizer), train.block_size,
                                          train.dropout, countdown)).to(device)
    missing = _missing_tokens(tokenizer, [*dataset.smiles, *dataset.validation_smiles])
    if missing:
        raise ModelError("vocabulary mismatch: the data uses token(s) "
                         f"{', '.join(sorted(missing))} unknown to the checkpoint")
    prefix = config.data.prefix_length
    countdown = model.length_conditioned
    batches = SequenceBatches(tokenizer, dataset.smiles, dataset.labels, prefix,
                              model.config.block_size, countdown)
    validation = SequenceBatches(tokenizer, dataset.validation_smiles,
                                 dataset.validation_labels, prefix, model.config.block_size,
                                 countdown) if dataset.validation_smiles else None
    record = {"loss": float("nan")}

    def step(iteration: int, loss: float) -> None:
        record["loss"] = loss
        if on_step is not None:
            on_step(iteration, loss)

    def evaluate(iteration: int) -> None:
        value = evaluate_loss(model, validation, device) if validation else float("nan")
        history.append({"iteration": iteration, "train_loss": record["loss"],
                        "validation_loss": value})

    def checkpoint(iteration: int, optimizer, generator, snapshot: bool) -> None:
        state = Checkpoint(model, tokenizer, config, iteration, None, None, history,
                           dataset.summary)
        save_checkpoint(out, state, optimizer, generator)
        if snapshot:
            save_checkpoint(out.with_name(f"{out.stem}-{iteration}{out.suffix}"), state)

    began = time.perf_counter()
    with stop_on_signals() as stop:
        try:
            run_training(model, batches, train, device, start, optimizer_state, rng_state,
                         on_step=step, on_eval=evaluate, on_checkpoint=checkpoint, stop=stop)
        except TrainingInterrupted as exc:
            name = signal.Signals(exc.signum).name
            raise TrainingInterrupted(
                f"{name} at iteration {exc.iteration} of {train.max_iters}: checkpoint "
                f"written to {out}; continue with --resume", exc.iteration,
                exc.signum) from None
    wall = time.perf_counter() - began
    done = max(train.max_iters - start, 0)
    last = history[-1] if history else {"train_loss": float("nan"),
                                        "validation_loss": float("nan")}
    return TrainReport(
        iterations=train.max_iters, final_train_loss=last["train_loss"],
        final_validation_loss=last["validation_loss"], wall_s=wall,
        iterations_per_s=done / wall if wall > 0 else float("nan"),
        n_parameters=model.n_parameters(), data_summary=dataset.summary, checkpoint=str(out),
        start_iteration=start, resumed_from=resumed_from)


def _missing_tokens(tokenizer: SmilesTokenizer, smiles) -> set[str]:
    from polyhpc.generate.tokenizer import split_smiles

    missing = set()
    for item in smiles:
        missing.update(t for t in split_smiles(item) if t not in tokenizer.stoi)
    return missing
