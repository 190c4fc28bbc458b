"""Writing result files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write ``text`` to a sibling temporary file, then rename it over ``path``."""
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)
    return path


def write_json_atomic(path: Path | str, payload) -> Path:
    """:func:`write_text_atomic` for JSON (indented)."""
    return write_text_atomic(path, json.dumps(payload, indent=2))


def finite_json(value):
    """``value`` with NaN and infinities as ``None`` (JSON has no NaN), numpy as Python.

    Dicts, lists and tuples are converted recursively (tuples become lists).
    """
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()  # numpy scalars and arrays
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(v) for v in value]
    return value


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
