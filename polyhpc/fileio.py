"""Writing result files so that an interrupted run never leaves a half-written one."""

from __future__ import annotations

import json
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
