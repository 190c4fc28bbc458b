"""A real pseudo-terminal for tests of what commands draw only on a terminal (progress bars)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios


def open_terminal(rows: int = 40, columns: int = 120) -> tuple[int, int]:
    """``(control, terminal)`` of a new pty of ``rows`` x ``columns``.

    A new pty is 0 x 0, where tqdm draws nothing, so the size is set.
    """
    control, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    return control, terminal


def read_until_closed(fd: int, buffer: list[bytes]) -> None:
    """Append what the terminal shows to ``buffer`` until the child closes it."""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            return
        if not chunk:
            return
        buffer.append(chunk)


def on_a_terminal(command: list[str], stdout_too: bool = False) -> tuple[int, str, str]:
    """Run ``command`` with stderr (and, with ``stdout_too``, stdout) on a 120-column pty.

    Returns the exit code, what went to the stdout pipe and what the terminal showed.
    """
    control, terminal = open_terminal()
    process = subprocess.Popen(command, stdout=terminal if stdout_too else subprocess.PIPE,
                               stderr=terminal, stdin=subprocess.DEVNULL)
    os.close(terminal)
    shown: list[bytes] = []
    read_until_closed(control, shown)
    os.close(control)
    stdout = "" if stdout_too else process.stdout.read().decode()
    return process.wait(), stdout, b"".join(shown).decode(errors="replace")
