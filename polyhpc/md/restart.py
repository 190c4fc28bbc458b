"""Continuing a production run: LAMMPS restart files and the dump they belong to.

A production writes restart files every ``restart_every_steps`` (alternating
between two files, as ``restart N a b`` does) and one more when its time
budget runs out. A run that was killed continues from the newest *complete*
restart: LAMMPS ends every restart file with its magic string, so a file cut
off while being written is recognised and skipped. Frames the dump holds from
that restart's step on are cut away before LAMMPS appends again (it writes the
restart step's frame itself), so the dump holds every frame exactly once.

Restart layout (LAMMPS ``src/write_restart.cpp``, format revision 3): the
magic string, an endian flag and the format revision (ints), then header
records ``int flag`` + value; ``VERSION`` and ``UNITS`` are strings
(``int n`` + n bytes), ``NTIMESTEP`` is a 64-bit integer, the integer-size
records are ints. The file ends with the magic string again.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

from polyhpc.errors import PolyhpcError

log = logging.getLogger(__name__)

MAGIC = b"LammpS RestartT\x00"
_VERSION, _SMALLINT, _TAGINT, _BIGINT, _UNITS, _NTIMESTEP = range(6)
_IMAGEINT = 48
_STRINGS = {_VERSION, _UNITS}
_INTS = {_SMALLINT, _TAGINT, _BIGINT, _IMAGEINT}

#: Restart files a production writes: periodic (two alternating) and on a time-out.
PRODUCTION_RESTARTS = ("production.a.restart", "production.b.restart",
                       "production.timeout.restart")


class RestartError(PolyhpcError):
    """A restart file or a dump cannot be used to continue a run."""


def restart_complete(path: Path) -> bool:
    """Whether a restart file starts and ends with the LAMMPS magic string."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size < 2 * len(MAGIC):
            return False
        with open(path, "rb") as handle:
            head = handle.read(len(MAGIC))
            handle.seek(size - len(MAGIC))
            return head == MAGIC and handle.read() == MAGIC
    except OSError:
        return False


def restart_timestep(path: Path) -> int:
    """The timestep a LAMMPS restart file was written at.

    Raises
    ------
    RestartError
        Not a LAMMPS restart file, or one written with an endianness other than this machine's.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(4096)
    if not data.startswith(MAGIC):
        raise RestartError(f"{path} is not a LAMMPS restart file")
    offset = len(MAGIC)
    endian, _revision = struct.unpack_from("=ii", data, offset)
    if endian != 1:
        raise RestartError(f"{path} was written on a machine of other endianness")
    offset += 8
    try:
        while True:
            (flag,) = struct.unpack_from("=i", data, offset)
            offset += 4
            if flag == _NTIMESTEP:
                return struct.unpack_from("=q", data, offset)[0]
            if flag in _STRINGS:
                (n,) = struct.unpack_from("=i", data, offset)
                offset += 4 + n
            elif flag in _INTS:
                offset += 4
            else:
                raise RestartError(f"{path}: unexpected header record {flag} before the timestep")
    except struct.error:
        raise RestartError(f"{path}: header ends before the timestep") from None


def latest_restart(workdir: Path, names: tuple[str, ...] = PRODUCTION_RESTARTS
                   ) -> tuple[str, int] | None:
    """``(name, timestep)`` of the newest complete restart among ``names``, or ``None``."""
    found = []
    for name in names:
        path = Path(workdir) / name
        if path.is_file() and restart_complete(path):
            try:
                found.append((restart_timestep(path), name))
            except RestartError as exc:  # e.g. a header layout this reader does not know
                log.warning("%s is not used to continue: %s", path, exc)
    if not found:
        return None
    step, name = max(found)
    return name, step


def _frame_offsets(path: Path) -> list[tuple[int, int]]:
    """``(byte offset, timestep)`` of every frame header of a LAMMPS text dump."""
    offsets = []
    with open(path, "rb") as handle:
        position = start = 0
        expect_step = False
        for line in handle:
            if expect_step:
                try:
                    offsets.append((start, int(line)))
                except ValueError:
                    break  # a header cut off while being written
                expect_step = False
            elif line.startswith(b"ITEM: TIMESTEP"):
                start, expect_step = position, True
            position += len(line)
    return offsets


def truncate_dump(path: Path, before_step: int) -> list[int]:
    """Cut a text dump at its first frame of ``before_step`` or later; return the steps kept.

    Raises
    ------
    RestartError
        The dump's frame timesteps are not increasing.
    """
    path = Path(path)
    if not path.is_file():
        return []
    offsets = _frame_offsets(path)
    steps = [step for _, step in offsets]
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise RestartError(f"{path}: frame timesteps are not increasing; it cannot be continued")
    cut = next((offset for offset, step in offsets if step >= before_step), None)
    if cut is not None:
        with open(path, "r+b") as handle:
            handle.truncate(cut)
    return [step for step in steps if step < before_step]
