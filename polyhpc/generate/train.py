"""Training loop and checkpoints of the SMILES generator.

The loop knows nothing about the model beyond ``model(x, y) -> (logits,
loss)`` and ``model.optimizer(...)``; progress, evaluation and checkpoints are
callbacks, so the library never prints. A checkpoint holds weights, model
and training config, vocabulary, optimizer and RNG state in one file; resume
and fine-tuning (a campaign's feedback step) start from one. Checkpoints are
written and read by :mod:`polyhpc.generate.checkpoint` (names re-exported here).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch

from polyhpc.errors import ConfigError, ModelError
from polyhpc.generate.checkpoint import (
    CHECKPOINT_FORMAT,
    Checkpoint,
    convert_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from polyhpc.generate.config import GeneratorConfig, TrainConfig, TrainingSetConfig
from polyhpc.generate.dataset import SequenceBatches, TrainingSet, build_training_set
from polyhpc.generate.model import GPT, GPTConfig
from polyhpc.generate.tokenizer import SmilesTokenizer

log = logging.getLogger(__name__)
__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "GeneratorConfig", "TrainConfig", "TrainReport",
           "TrainingInterrupted", "convert_checkpoint", "evaluate_loss", "load_checkpoint",
           "resolve_device", "run_training", "save_checkpoint", "stop_on_signals",
           "train_generator"]
#: At most this many extra copies (``data.extra[*].copies``) in all; the paper adds 4,000.
MAX_EXTRA_COPIES = 1_000_000


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
    ConfigError
        More than :data:`MAX_EXTRA_COPIES` extra copies (before any work).
    """
    out = Path(out)
    train = config.train
    check_extra_copies(config.data)
    device = _prepare_torch(train)
    dataset = build_training_set(frame, config.data)
    start = _starting_point(dataset, train, out, init, resume, device)
    batches, validation = _sequence_batches(start.tokenizer, dataset, config, start.model)
    callbacks = _Callbacks(start.model, start.tokenizer, config, dataset.summary, out,
                           start.history, validation, device, on_step)
    began = time.perf_counter()
    _run_until_done_or_signalled(start, batches, train, device, callbacks, out)
    wall = time.perf_counter() - began
    done = max(train.max_iters - start.iteration, 0)
    last = start.history[-1] if start.history else {"train_loss": float("nan"),
                                                    "validation_loss": float("nan")}
    return TrainReport(
        iterations=train.max_iters, final_train_loss=last["train_loss"],
        final_validation_loss=last["validation_loss"], wall_s=wall,
        iterations_per_s=done / wall if wall > 0 else float("nan"),
        n_parameters=start.model.n_parameters(), data_summary=dataset.summary,
        checkpoint=str(out), start_iteration=start.iteration, resumed_from=start.resumed_from)


def check_extra_copies(data: TrainingSetConfig) -> None:
    """Refuse more than :data:`MAX_EXTRA_COPIES` extra copies, naming the entry.

    Raises
    ------
    ConfigError
        Before the training set is built (a huge ``copies`` would fill memory).
    """
    total = 0
    for index, item in enumerate(data.extra):
        total += item.copies
        if total > MAX_EXTRA_COPIES:
            raise ConfigError(f"data.extra[{index}].copies: {item.copies} would bring the "
                              f"extra copies to {total}; at most {MAX_EXTRA_COPIES:,} in all "
                              "(the paper adds 4,000)")


def _prepare_torch(train: TrainConfig) -> torch.device:
    """Threads, the global seed (weight init, dropout) and the device of a run."""
    if train.threads:
        torch.set_num_threads(train.threads)
    torch.manual_seed(train.seed)
    return resolve_device(train.device)


@dataclass
class _Start:
    """Where a run starts: a new model, a fine-tuning checkpoint, or the run's own."""

    model: GPT
    tokenizer: SmilesTokenizer
    iteration: int = 0
    optimizer_state: dict | None = None
    rng_state: torch.Tensor | None = None
    history: list[dict] = field(default_factory=list)
    resumed_from: str | None = None


def _starting_point(dataset: TrainingSet, train: TrainConfig, out: Path, init: Path | None,
                    resume: bool, device: torch.device) -> _Start:
    """Resume from ``out``, fine-tune from ``init``, or build a new model and vocabulary."""
    corpus = [*dataset.smiles, *dataset.validation_smiles]
    if resume and out.is_file():
        state = load_checkpoint(out, str(device))
        if state.iteration >= train.max_iters:
            log.info("checkpoint %s already at iteration %d", out, state.iteration)
        start = _Start(state.model, state.tokenizer, state.iteration, state.optimizer_state,
                       state.rng_state, state.history, str(out))
    elif init is not None:
        state = load_checkpoint(init, str(device))
        start = _Start(state.model, state.tokenizer)
    else:
        prompted = train.length_conditioning == "prompt"
        tokenizer = SmilesTokenizer.from_corpus(
            corpus, n_lengths=train.max_length if prompted else 0)
        countdown = train.max_length if train.length_conditioning == "countdown" else 0
        start = _Start(GPT(GPTConfig.from_preset(train.preset, len(tokenizer), train.block_size,
                                                 train.dropout, countdown)).to(device),
                       tokenizer)
    missing = _missing_tokens(start.tokenizer, corpus)
    if missing:
        raise ModelError("vocabulary mismatch: the data uses token(s) "
                         f"{', '.join(sorted(missing))} unknown to the checkpoint")
    return start


def _sequence_batches(tokenizer: SmilesTokenizer, dataset: TrainingSet,
                      config: GeneratorConfig,
                      model: GPT) -> tuple[SequenceBatches, SequenceBatches | None]:
    """Training batches and, when the set has a validation split, validation batches."""
    prefix, block = config.data.prefix_length, model.config.block_size
    countdown = model.length_conditioned
    batches = SequenceBatches(tokenizer, dataset.smiles, dataset.labels, prefix, block,
                              countdown)
    validation = SequenceBatches(tokenizer, dataset.validation_smiles,
                                 dataset.validation_labels, prefix, block,
                                 countdown) if dataset.validation_smiles else None
    return batches, validation


class _Callbacks:
    """The loop's callbacks: last loss, validation history, checkpoints and snapshots."""

    def __init__(self, model: GPT, tokenizer: SmilesTokenizer, config: GeneratorConfig,
                 summary: dict, out: Path, history: list[dict],
                 validation: SequenceBatches | None, device: torch.device,
                 on_step: Callable[[int, float], None] | None):
        self.model, self.tokenizer, self.config, self.summary = model, tokenizer, config, summary
        self.out, self.history, self.validation, self.device = out, history, validation, device
        self.on_step = on_step
        self.loss = float("nan")

    def step(self, iteration: int, loss: float) -> None:
        """Keep the last training loss and pass it on."""
        self.loss = loss
        if self.on_step is not None:
            self.on_step(iteration, loss)

    def evaluate(self, iteration: int) -> None:
        """Append the last training loss and the validation loss to the history."""
        value = evaluate_loss(self.model, self.validation, self.device) \
            if self.validation else float("nan")
        self.history.append({"iteration": iteration, "train_loss": self.loss,
                             "validation_loss": value})

    def checkpoint(self, iteration: int, optimizer, generator, snapshot: bool) -> None:
        """Write ``out`` (resumable) and, at an interval, its ``-<iteration>`` snapshot."""
        state = Checkpoint(self.model, self.tokenizer, self.config, iteration, None, None,
                           self.history, self.summary)
        save_checkpoint(self.out, state, optimizer, generator)
        if snapshot:
            out = self.out
            save_checkpoint(out.with_name(f"{out.stem}-{iteration}{out.suffix}"), state)


def _run_until_done_or_signalled(start: _Start, batches: SequenceBatches, train: TrainConfig,
                                 device: torch.device, callbacks: _Callbacks, out: Path) -> None:
    """The loop under SIGINT/SIGTERM handlers; a signal says where the checkpoint is."""
    with stop_on_signals() as stop:
        try:
            run_training(start.model, batches, train, device, start.iteration,
                         start.optimizer_state, start.rng_state, on_step=callbacks.step,
                         on_eval=callbacks.evaluate, on_checkpoint=callbacks.checkpoint,
                         stop=stop)
        except TrainingInterrupted as exc:
            name = signal.Signals(exc.signum).name
            raise TrainingInterrupted(
                f"{name} at iteration {exc.iteration} of {train.max_iters}: checkpoint "
                f"written to {out}; continue with --resume", exc.iteration,
                exc.signum) from None


def _missing_tokens(tokenizer: SmilesTokenizer, smiles) -> set[str]:
    from polyhpc.generate.tokenizer import split_smiles

    missing = set()
    for item in smiles:
        missing.update(t for t in split_smiles(item) if t not in tokenizer.stoi)
    return missing
