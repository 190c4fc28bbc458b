"""Numba compilation of the analysis kernels, cached on disk.

Every ``@njit`` function of :mod:`polyhpc.analysis` is decorated with
:func:`njit`, which is ``numba.njit(cache=True)`` with two additions:

- a cache that always finds a folder: Numba caches beside the source
  (``__pycache__``), else in the user's cache folder; when both are
  read-only (a package installed read-only, a container without a writable
  home) Numba refuses to decorate at all, so the cache moves to a private
  folder of this user under the temporary directory (:data:`FALLBACK_PREFIX`);
  ``NUMBA_CACHE_DIR``, when set and writable, is used as Numba uses it;
- a record of the decorated kernels, so that :func:`kernels_to_compile` can
  say before a run whether Numba is about to compile (a minute or so on a
  new machine or after an upgrade) instead of loading from the cache.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import tempfile
from pathlib import Path

import numba
from numba.core import config

log = logging.getLogger(__name__)

#: Name of the fallback cache folder in the temporary directory (the user id is appended).
FALLBACK_PREFIX = "polyhpc-numba-cache-"

# Decorated kernels by module name (``polyhpc.analysis.kernels`` -> dispatchers).
_KERNELS: dict[str, list] = {}


def _private_folder(path: Path) -> bool:
    """Create ``path`` (mode 700) and check that it is a real folder only this user can write.

    Numba's cache files are pickles: a folder another user could write into
    would let them run code in this process.
    """
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        info = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH))


def _use_fallback_cache() -> bool:
    """Point Numba's cache at this user's folder under the temporary directory."""
    folder = Path(tempfile.gettempdir()) / f"{FALLBACK_PREFIX}{os.getuid()}"
    if not _private_folder(folder):
        return False
    config.CACHE_DIR = str(folder)
    log.info("package folder and user cache are read-only: Numba caches in %s", folder)
    return True


@functools.cache
def _warn_uncached() -> None:
    log.warning("no writable folder for Numba's cache: the analysis kernels are compiled in "
                "every process (set NUMBA_CACHE_DIR to a writable folder)")


def njit(function=None, *, parallel: bool = False):
    """``numba.njit(cache=True)``, with a writable cache folder found or made.

    Parameters
    ----------
    function : callable
        The kernel (``@njit`` or ``@njit(parallel=True)``).
    parallel : bool
        Numba's ``parallel`` option (``prange`` loops).
    """
    def decorate(kernel):
        try:
            dispatcher = numba.njit(cache=True, parallel=parallel)(kernel)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            if config.CACHE_DIR or not _use_fallback_cache():
                _warn_uncached()
                dispatcher = numba.njit(parallel=parallel)(kernel)
            else:
                dispatcher = numba.njit(cache=True, parallel=parallel)(kernel)
        _KERNELS.setdefault(kernel.__module__, []).append(dispatcher)
        return dispatcher

    return decorate(function) if function is not None else decorate


def _cache_path(dispatcher) -> str | None:
    """Numba's cache folder of ``dispatcher``; None without a cache (or with JIT disabled)."""
    stats = getattr(dispatcher, "stats", None)
    return getattr(stats, "cache_path", None)


def _cached_versions(dispatcher) -> int | None:
    """Compiled versions of ``dispatcher`` in its on-disk cache; None when it has no cache.

    Reads Numba's cache index the way Numba does before it compiles (a stale
    index, from an edited source file or another Numba version, counts as
    empty). That index is not public API: if it changes, the answer is
    "nothing cached" as long as the cache folder holds no file of the
    kernel's module, else "cached".
    """
    cache_path = _cache_path(dispatcher)
    if cache_path is None:  # NUMBA_DISABLE_JIT or no cache: nothing to load
        return None
    try:
        return len(dispatcher._cache._cache_file._load_index())
    except AttributeError:
        module = Path(dispatcher.py_func.__code__.co_filename).stem
        return int(any(Path(cache_path).glob(f"{module}.*.nbi")))


def kernels_to_compile(modules: tuple[str, ...]) -> list[str]:
    """Kernels of ``modules`` that Numba will compile on first use (none cached).

    Parameters
    ----------
    modules : tuple of str
        Module names (``polyhpc.analysis.kernels``); they must be imported.

    Returns
    -------
    list of str
        ``module.function`` of each kernel without a cached version; empty
        when everything loads from the cache (or JIT is disabled).
    """
    pending = []
    for module in modules:
        for dispatcher in _KERNELS.get(module, []):
            if _cached_versions(dispatcher) == 0:
                pending.append(f"{module}.{dispatcher.py_func.__name__}")
    return pending


def cache_folder(modules: tuple[str, ...]) -> str | None:
    """The folder Numba caches the kernels of ``modules`` in (the first one's)."""
    for module in modules:
        for dispatcher in _KERNELS.get(module, []):
            if _cache_path(dispatcher):
                return _cache_path(dispatcher)
    return None
