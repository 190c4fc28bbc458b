"""The surrogate model file: numpy arrays and JSON settings in one ``.npz``, no pickle.

A model file is a zip of ``.npy`` arrays (``numpy.savez``) read back with
``allow_pickle=False``, so that loading it rebuilds numbers and nothing
else: a crafted file cannot run code, as a pickle can. The settings,
provenance and array layout are one JSON document stored as the UTF-8 bytes
of the array ``meta``; every other array belongs to a regressor, named
``<target>.<part>``.

Files written by polyhpc before this format were pickles; they are refused
with the commands that retrain or (for one's own file) convert them.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from polyhpc.errors import ModelError

FORMAT = "polyhpc-surrogate-3"
META = "meta"
#: First byte of every pickle of protocol 2 or later (polyhpc's old model files).
_PICKLE_MAGIC = b"\x80"


def train_hint(path: Path) -> str:
    """The command that trains a model to ``path``, for error messages."""
    return f"train one with `polyhpc surrogate train --out {path}`"


def write_model_file(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta`` (JSON-ready, no NaN) and ``arrays`` atomically to ``path``.

    The file is a ``.npz`` whatever ``path``'s suffix; ``numpy`` adds none.
    """
    if META in arrays:
        raise ValueError(f"array name {META!r} is reserved")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": FORMAT, **meta}, allow_nan=False, sort_keys=True)
    partial = path.with_suffix(path.suffix + ".part")
    with open(partial, "wb") as handle:
        np.savez(handle, **{META: np.frombuffer(text.encode(), dtype=np.uint8)}, **arrays)
    partial.replace(path)


def read_model_file(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """``(meta, arrays)`` of a model file, refusing pickles and foreign files.

    Raises
    ------
    ModelError
        One line: a missing file; an old pickled model (with the commands
        that retrain or convert it); a file that is not a model; arrays that
        would need pickle (object arrays); a format of another polyhpc.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"surrogate model {path} not found; {train_hint(path)}")
    if not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            start = handle.read(1)
        if start == _PICKLE_MAGIC:
            raise ModelError(pickle_refusal(path))
        raise ModelError(f"{path} is corrupt or not a surrogate model; {train_hint(path)}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ModelError(f"{path} holds Python objects, not only arrays; polyhpc refuses "
                             f"to unpickle them (that could run code); {train_hint(path)}") \
                from None
        raise ModelError(f"{path} is corrupt or not a surrogate model ({exc.__class__.__name__})"
                         f"; {train_hint(path)}") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ModelError(f"{path} is corrupt or not a surrogate model ({exc.__class__.__name__})"
                         f"; {train_hint(path)}") from None
    meta = _meta(path, arrays.pop(META, None))
    return meta, arrays


def _meta(path: Path, raw: np.ndarray | None) -> dict:
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelError(f"{path} is not a polyhpc surrogate model (no settings); "
                         f"{train_hint(path)}")
    try:
        meta = json.loads(raw.tobytes().decode())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelError(f"{path}: its settings are not JSON; the file is damaged; "
                         f"{train_hint(path)}") from None
    if not isinstance(meta, dict) or not str(meta.get("format", "")).startswith(
            "polyhpc-surrogate"):
        raise ModelError(f"{path} is not a polyhpc surrogate model; {train_hint(path)}")
    if meta["format"] != FORMAT:
        raise ModelError(f"{path} is a {meta['format']} model, this polyhpc reads {FORMAT}; "
                         f"{train_hint(path)}")
    return meta


def pickle_refusal(path: Path) -> str:
    """Why a pickled model is refused, and the two ways forward."""
    new = path.with_suffix(".npz") if path.suffix != ".npz" else path.with_name(
        path.stem + "-converted.npz")
    return (f"{path} is a pickled surrogate model (polyhpc before {FORMAT}); polyhpc no longer "
            f"unpickles models, since that can run code: {train_hint(new)}, or, only if you "
            f"made {path} yourself, `polyhpc surrogate convert {path} {new} --trust-pickle`")
