"""Names a package exports but imports only when first used (torch, RDKit, Numba are slow).

A package's ``__init__`` declares ``{name: module}`` and takes its module ``__getattr__``
and ``__dir__`` from :func:`exports`, so ``import polyhpc.cli`` stays fast while
``from polyhpc.md import build_system`` works in a notebook.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module


def exports(package: str, names: dict[str, str], namespace: dict) -> tuple[Callable, Callable]:
    """Module ``__getattr__`` and ``__dir__`` for ``names``.

    ``names`` maps an exported name to its module, or to ``module:attribute`` when the
    attribute has another name there.
    """

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, _, attribute = names[name].partition(":")
        value = getattr(import_module(module), attribute or name)
        namespace[name] = value  # the next lookup finds it without this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(names))

    return __getattr__, __dir__
