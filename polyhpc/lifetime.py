"""Child processes that do not outlive their parent (Linux ``PR_SET_PDEATHSIG``).

A killed campaign driver or worker must leave no LAMMPS run or Parsl
interchange behind: both ask the kernel, right after they start, to send them
SIGTERM when their parent exits. The setting survives ``exec``.
"""

from __future__ import annotations

import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux only)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: nothing to ask for
        return False
