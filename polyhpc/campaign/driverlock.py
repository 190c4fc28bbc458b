"""One driver per campaign folder, and a folder a campaign may use.

A second ``polyhpc campaign run`` on a folder whose campaign is running would
mark the live run killed and redo its work. :class:`DriverLock` holds an
exclusive ``fcntl.flock`` on ``<folder>/driver.lock`` for as long as the
driver lives (the kernel releases it when the driver dies, so a killed driver
never leaves a stale lock) and writes who holds it, so the refusal names the
live driver.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import socket
import time
from pathlib import Path

from polyhpc.campaign.store import LEDGER_NAME
from polyhpc.errors import ConfigError

LOCK_NAME = "driver.lock"


#: Characters a campaign folder's path may hold: Parsl writes it unquoted into the shell
#: lines that start its blocks (local and batch), so nothing a shell would interpret.
SAFE_PATH = re.compile(r"[A-Za-z0-9._+,@%=:/~-]+")


def check_folder(folder: Path) -> None:
    """Refuse a folder a campaign cannot use: an unsafe name, not writable, or other files.

    Raises
    ------
    ConfigError
        The path holds a space or a character a shell interprets, the folder (or the
        first existing parent) is not writable, it is not empty and holds no campaign
        ledger, or its ledger is read-only.
    """
    folder = Path(folder).absolute()
    if not SAFE_PATH.fullmatch(str(folder)):
        bad = sorted({c for c in str(folder) if not SAFE_PATH.fullmatch(c)})
        shown = ", ".join(repr(c) for c in bad)
        raise ConfigError(f"--dir {str(folder)!r}: a campaign folder's path may hold only "
                          f"letters, digits and ._+,@%=:/~- (found {shown}); Parsl hands it "
                          "to shells unquoted. Choose another folder, or link to this one "
                          "from a path without them")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"--dir {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"--dir {folder}: {existing} is not writable; a campaign writes its "
                          "ledger and work folders there (choose a writable --dir)")
    ledger = folder / LEDGER_NAME
    if ledger.exists() and not os.access(ledger, os.W_OK):
        raise ConfigError(f"{ledger} is read-only: the campaign cannot record its progress "
                          "(make it writable, or copy the folder somewhere writable)")
    if folder.is_dir() and not ledger.exists() and any(
            p.name not in (LEDGER_NAME + ".new", LOCK_NAME) for p in folder.iterdir()):
        raise ConfigError(f"{folder} is not empty and holds no campaign ledger: choose a new "
                          "or empty --dir")


class DriverLock:
    """The exclusive lock of the campaign driver on ``folder`` (taken when made).

    Raises
    ------
    ConfigError
        Another live driver holds it (its host, pid and start time are named).
    """

    def __init__(self, folder: Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LOCK_NAME
        self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(self.path)
            os.close(self._fd)
            self._fd = None
            raise ConfigError(f"{folder}: another driver runs this campaign ({holder}); wait "
                              "for it to end, or stop it, then run again") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                       "since": time.time()}).encode())

    def release(self) -> None:
        """Let another driver in (also happens when this process ends)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text())
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["since"]))
        return f"pid {info['pid']} on {info['host']}, since {since}"
    except (OSError, ValueError, KeyError, TypeError):
        return "a process whose details are unknown"
