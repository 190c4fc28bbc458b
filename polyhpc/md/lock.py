"""One LAMMPS run per folder: an exclusive lock on ``workdir/.polyhpc.lock``.

Two processes (a campaign worker and a user's ``md run``, or two workers
after a retry) must never run LAMMPS in the same folder: they would write the
same restart files. :func:`run_folder_lock` holds an exclusive ``fcntl.flock``
for the whole build-and-run of a folder; a second process blocks until the
first is done and then finds the finished stages (they are skipped). The
lock is re-entrant within one thread (``evaluate`` holds it and calls
``run_protocol``, which takes it again). The kernel releases it when the
holder dies, so a killed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from polyhpc.errors import PolyhpcError

log = logging.getLogger(__name__)

LOCK_NAME = ".polyhpc.lock"
_held: dict[tuple[str, int], int] = {}
_guard = threading.Lock()


class FolderBusyError(PolyhpcError):
    """Another process holds the run folder's lock."""


@contextmanager
def run_folder_lock(workdir: Path, wait: bool = True) -> Iterator[Path]:
    """Hold the folder's lock; yields the lock file's path.

    Parameters
    ----------
    wait : bool
        Block until the lock is free (runs); ``False`` raises :class:`FolderBusyError`
        at once instead (``md build --force`` never deletes files under a running LAMMPS).
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / LOCK_NAME
    key = (str(path.resolve()), threading.get_ident())
    with _guard:
        depth = _held.get(key, 0)
        if depth:
            _held[key] = depth + 1
    if depth:
        try:
            yield path
        finally:
            with _guard:
                _held[key] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise FolderBusyError(f"{workdir} is in use by another polyhpc run "
                                      f"(process {path.read_text().strip() or '?'})") from None
            log.info("%s is in use by another polyhpc run; waiting for it", workdir)
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        with _guard:
            _held[key] = 1
        try:
            yield path
        finally:
            with _guard:
                del _held[key]
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
