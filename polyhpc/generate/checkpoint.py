"""Generator checkpoints: one torch file of tensors and plain data, read without pickle code.

A checkpoint holds the weights, the model and training config, the
vocabulary, and (for resuming) the optimizer and RNG state and the loss
history. It is read with ``torch.load(weights_only=True)``: only tensors,
numbers, strings, lists, tuples and dicts are rebuilt, so a crafted file
cannot run code (a plain pickle can). The tokenizer and the settings are
rebuilt from the plain vocabulary and config dict, and the file's
*signature*, a sha256 over the vocabulary in order, the model config and the
shape of every weight, is checked before a model is built: a vocabulary that
was reordered, shortened or lengthened after training is refused instead of
sampling garbage.

Files of formats 1 and 2 (polyhpc before the signature) are refused with the
command that converts them, :func:`convert_checkpoint`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from polyhpc.errors import ConfigError, ModelError
from polyhpc.generate.config import GeneratorConfig
from polyhpc.generate.model import GPT, GPTConfig
from polyhpc.generate.tokenizer import EOS, PAD, SmilesTokenizer

# 2: optional length conditioning (model_config.length_embedding, length tokens, train keys)
# 3: read with weights_only=True; a signature over vocabulary, model config and weight shapes
CHECKPOINT_FORMAT = "polyhpc-generator-3"
CONVERTIBLE_FORMATS = ("polyhpc-generator-1", "polyhpc-generator-2")
_REQUIRED = {"model_config": dict, "state_dict": dict, "vocabulary": list, "config": dict,
             "iteration": int, "signature": str}
_OPTIONAL = {"optimizer": dict, "rng_state": torch.Tensor, "history": list,
             "data_summary": dict}


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


def checkpoint_signature(vocabulary: list[str], model_config: dict,
                         state_dict: dict[str, torch.Tensor]) -> str:
    """sha256 of the vocabulary (in order), the model config and every weight's shape.

    Parameters
    ----------
    vocabulary : list of str
        Token of each embedding row, row 0 first.
    model_config : dict
        :class:`~polyhpc.generate.model.GPTConfig` as a dict.
    state_dict : dict of str to Tensor
        The weights (only names and shapes enter the signature).

    Returns
    -------
    str
        64 hex digits.
    """
    shapes = {name: list(tensor.shape) for name, tensor in state_dict.items()}
    text = json.dumps({"vocabulary": vocabulary, "model_config": model_config,
                       "shapes": shapes}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def save_checkpoint(path: Path, checkpoint: Checkpoint, optimizer=None,
                    generator: torch.Generator | None = None) -> None:
    """Write a checkpoint atomically (a killed run never leaves a half file).

    Parameters
    ----------
    path : Path
    checkpoint : Checkpoint
    optimizer : torch.optim.Optimizer, optional
        Its state is saved instead of ``checkpoint.optimizer_state``.
    generator : torch.Generator, optional
        The batch-sampling generator, so that a resumed run draws the same
        batches; its state is saved instead of ``checkpoint.rng_state``.
    """
    from polyhpc.config import to_dict

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model_config = dataclasses.asdict(checkpoint.model.config)
    state_dict = dict(checkpoint.model.state_dict())
    vocabulary = list(checkpoint.tokenizer.itos)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model_config": model_config,
        "state_dict": state_dict,
        "vocabulary": vocabulary,
        "signature": checkpoint_signature(vocabulary, model_config, state_dict),
        "config": to_dict(checkpoint.config),
        "iteration": int(checkpoint.iteration),
        "optimizer": optimizer.state_dict() if optimizer is not None
        else checkpoint.optimizer_state,
        "rng_state": generator.get_state() if generator is not None else checkpoint.rng_state,
        "history": checkpoint.history,
        "data_summary": checkpoint.data_summary,
    }
    partial = path.with_suffix(path.suffix + ".part")
    torch.save(payload, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path, device: str = "cpu") -> Checkpoint:
    """Load a checkpoint without running any code from it.

    Parameters
    ----------
    path : Path
    device : str
        Where the weights go (``cpu``, ``cuda``).

    Returns
    -------
    Checkpoint

    Raises
    ------
    ModelError
        One line: a missing, corrupt or foreign file; Python objects besides
        tensors and plain data; an old format (with the command that converts
        it) or a newer one; a vocabulary, config or weights that disagree with
        each other or with the signature; metadata of the wrong type.
    """
    path = Path(path)
    payload = _read_payload(path, device)
    _check_format(path, payload, (CHECKPOINT_FORMAT,))
    _check_contents(path, payload)
    _check_signature(path, payload)
    return _build_checkpoint(path, payload, device)


def convert_checkpoint(old: Path, new: Path) -> Checkpoint:
    """Rewrite a format 1 or 2 checkpoint in the current format, with its signature.

    The old file is read with ``weights_only=True`` too, so converting a file
    of unknown origin runs none of its code; its vocabulary is taken as it is
    (the old formats had no signature to check it against).

    Returns
    -------
    Checkpoint
        The checkpoint as written to ``new``.
    """
    old, new = Path(old), Path(new)
    payload = _read_payload(old, "cpu")
    _check_format(old, payload, (*CONVERTIBLE_FORMATS, CHECKPOINT_FORMAT))
    model_config = payload.get("model_config")
    if isinstance(model_config, dict):  # format 1 predates length conditioning
        model_config = {"length_embedding": 0, **model_config}
        payload = {**payload, "model_config": model_config}
    if payload["format"] != CHECKPOINT_FORMAT:
        vocabulary, state_dict = payload.get("vocabulary"), payload.get("state_dict")
        if isinstance(vocabulary, list) and isinstance(state_dict, dict):
            payload["signature"] = checkpoint_signature(vocabulary, model_config, state_dict)
    _check_contents(old, payload)
    _check_signature(old, payload)
    state = _build_checkpoint(old, payload, "cpu")
    save_checkpoint(new, state)
    return state


def _read_payload(path: Path, device: str) -> dict:
    if not path.is_file():
        raise ModelError(f"checkpoint {path} not found")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols on stderr
            payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        if found:
            raise ModelError(f"checkpoint {path} holds a Python object ({found.group(1)}) "
                             "besides tensors and plain data; polyhpc refuses to load it "
                             "(unpickling it could run code)") from None
        kind = exc.__class__.__name__
        raise ModelError(f"checkpoint {path} is corrupt or not a torch file ({kind})") from None
    if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith(
            "polyhpc-generator-"):
        raise ModelError(f"{path} is not a polyhpc generator checkpoint")
    return payload


def _check_format(path: Path, payload: dict, readable: tuple[str, ...]) -> None:
    found = payload["format"]
    if found in readable:
        return
    if found in CONVERTIBLE_FORMATS:
        raise ModelError(f"{path} has the old checkpoint format {found!r} (no vocabulary "
                         f"signature); convert it with `polyhpc generate convert {path} NEW.pt` "
                         "or retrain")
    raise ModelError(f"{path} has checkpoint format {found!r}; this polyhpc reads "
                     f"{CHECKPOINT_FORMAT} (upgrade polyhpc or retrain)")


def _check_contents(path: Path, payload: dict) -> None:
    """Types of every field, the vocabulary itself, and its length against the weights."""
    for key, kind in {**_REQUIRED, **_OPTIONAL}.items():
        if key not in payload:
            if key in _REQUIRED:
                raise ModelError(f"checkpoint {path} lacks its {key}; the file is damaged")
            continue
        value = payload[key]
        if value is None and key in _OPTIONAL:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ModelError(f"checkpoint {path}: {key} is {_describe(value)}, expected "
                             f"{_KIND_WORDS[kind]}; the file is damaged")
    if payload["iteration"] < 0:
        raise ModelError(f"checkpoint {path}: iteration {payload['iteration']} is negative")
    _check_vocabulary(path, payload["vocabulary"])
    for name, tensor in payload["state_dict"].items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise ModelError(f"checkpoint {path}: its weights hold {_describe(tensor)} under "
                             f"{name!r}, expected tensors; the file is damaged")
    embedding = payload["state_dict"].get("transformer.wte.weight")
    rows = embedding.shape[0] if embedding is not None and embedding.dim() == 2 else None
    if rows is None:
        raise ModelError(f"checkpoint {path} has no token embedding "
                         "(transformer.wte.weight); the file is damaged")
    n_tokens = len(payload["vocabulary"])
    if n_tokens != rows or payload["model_config"].get("vocab_size") != rows:
        raise ModelError(f"checkpoint {path}: its vocabulary has {n_tokens} tokens but its "
                         f"embedding has {rows} rows (model_config.vocab_size "
                         f"{payload['model_config'].get('vocab_size')!r}); the file is damaged")
    rng = payload.get("rng_state")
    if rng is not None and (rng.dtype != torch.uint8 or rng.dim() != 1):
        raise ModelError(f"checkpoint {path}: rng_state is not a byte vector; the file is "
                         "damaged")
    summary = payload.get("data_summary") or {}
    for key in ("extra_copies", "length_counts"):
        if key in summary and not isinstance(summary[key], dict):
            raise ModelError(f"checkpoint {path}: data_summary.{key} is "
                             f"{_describe(summary[key])}, expected a mapping")


_KIND_WORDS = {dict: "a mapping", list: "a list", int: "a whole number", str: "a string",
               torch.Tensor: "a tensor"}


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _check_vocabulary(path: Path, vocabulary: list) -> None:
    if not all(isinstance(token, str) for token in vocabulary):
        raise ModelError(f"checkpoint {path}: its vocabulary holds non-strings")
    if vocabulary[:2] != [PAD, EOS]:
        raise ModelError(f"checkpoint {path}: its vocabulary must start with {PAD}, {EOS}")
    if len(set(vocabulary)) != len(vocabulary):
        raise ModelError(f"checkpoint {path}: its vocabulary repeats tokens")


def _check_signature(path: Path, payload: dict) -> None:
    expected = checkpoint_signature(payload["vocabulary"], payload["model_config"],
                                    payload["state_dict"])
    if payload["signature"] != expected:
        raise ModelError(f"checkpoint {path}: its vocabulary, model config or weight shapes "
                         "do not match the signature it was saved with (edited or reordered "
                         "after training?); refusing to use it")


def _build_checkpoint(path: Path, payload: dict, device: str) -> Checkpoint:
    from polyhpc.config import load_config

    try:
        model = GPT(GPTConfig(**payload["model_config"]))
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, ValueError, KeyError, ModelError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise ModelError(f"checkpoint {path} has inconsistent weights: {reason}") from None
    try:
        config = load_config(payload["config"], GeneratorConfig)
    except ConfigError as exc:
        raise ModelError(f"checkpoint {path}: its training config is invalid: {exc}") from None
    _check_training_state(path, model, config, payload)
    return Checkpoint(
        model=model.to(device), tokenizer=SmilesTokenizer(payload["vocabulary"]),
        config=config, iteration=payload["iteration"],
        optimizer_state=payload.get("optimizer"), rng_state=payload.get("rng_state"),
        history=list(payload.get("history") or []),
        data_summary=payload.get("data_summary") or {},
    )


def _check_training_state(path: Path, model: GPT, config: GeneratorConfig,
                          payload: dict) -> None:
    """Refuse now an optimizer or RNG state that a resumed run could not load."""
    if payload.get("optimizer") is not None:
        train = config.train
        optimizer = model.optimizer(train.learning_rate, train.betas, train.weight_decay)
        try:
            optimizer.load_state_dict(payload["optimizer"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
            raise ModelError(f"checkpoint {path}: its optimizer state does not fit the model "
                             f"({reason})") from None
    if payload.get("rng_state") is not None:
        try:
            torch.Generator().set_state(payload["rng_state"])
        except (RuntimeError, TypeError) as exc:
            raise ModelError(f"checkpoint {path}: its rng_state is not a generator state "
                             f"({exc.__class__.__name__})") from None
