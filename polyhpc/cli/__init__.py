"""The ``polyhpc`` command line: thin click wrappers around library calls.

Each command parses its arguments, calls one library function, and prints
text or ``--json``. Errors the library raises on purpose (``PolyhpcError``)
become one-line messages and a non-zero exit code. One module per stage.
"""

from polyhpc.cli import (  # noqa: F401  (importing registers the commands)
    analyze,
    bench,
    campaign,
    data,
    generate,
    md,
    smiles,
    surrogate,
)
from polyhpc.cli.base import main

__all__ = ["main"]
