"""Start a helper process that dies with the campaign driver (Linux ``PR_SET_PDEATHSIG``).

Parsl starts its interchange as a child of the driver but does not stop it
when the driver is killed (``kill -9``, a lost login shell): the orphan would
keep handing tasks to workers. ``python -m polyhpc.campaign.lifeline PROGRAM
ARGS...`` asks the kernel to send SIGTERM when its parent dies, then becomes
PROGRAM (the setting survives ``exec``), ignoring SIGINT so that a Ctrl-C meant
for the driver does not kill it mid-run. Workers stop on their own once the
interchange is gone (their heartbeat threshold), and each LAMMPS run dies with
its worker, so nothing of a killed campaign keeps running or writing.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

from polyhpc.lifetime import die_with_parent


def main(argv: list[str] | None = None) -> int:
    """Exec ``argv`` (program found on PATH, then beside this Python) bound to the parent."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.stderr.write("usage: python -m polyhpc.campaign.lifeline PROGRAM [ARGS...]\n")
        return 2
    parent = os.getppid()
    die_with_parent()
    # Ctrl-C reaches the driver's whole process group: the interchange must not die of it
    # (Parsl's cleanup would then wait for it forever, and it prints a traceback). The driver
    # shuts it down; if the driver dies instead, the kernel ends it (above). An ignored
    # signal stays ignored across exec.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent:  # the parent died before the request took effect
        return 1
    here = os.path.join(os.path.dirname(sys.executable), argv[0])
    program = shutil.which(argv[0]) or (here if os.path.exists(here) else argv[0])
    os.execv(program, [program, *argv[1:]])
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
