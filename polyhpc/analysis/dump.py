"""Streaming reader for LAMMPS text dumps (``dump custom``), in Numba.

The file is read in chunks of whole frames; frame boundaries are found with a
byte scan and the frames of a chunk are parsed in parallel straight from the
bytes by the kernels of :mod:`polyhpc.analysis.dumptext`. Only the atoms the
analysis needs are kept for every frame; the centre of mass of *all* atoms is
accumulated on the fly, so memory stays bounded by what is kept. Damaged
files (truncated, malformed numbers or rows, repeated ids) are refused with
the frame and the reason; only an incomplete last frame can be dropped.

Supported: any column order; ``x y z`` with ``ix iy iz`` image flags, or
``xu yu zu``; sorted or unsorted ids; orthogonal boxes. Triclinic boxes are
rejected with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.analysis import dumptext as text
from polyhpc.errors import TrajectoryError

# Column roles understood by the parser.
_ROLES = ("id", "mol", "type", "mass", "x", "y", "z", "ix", "iy", "iz")
_ROLE = {name: index for index, name in enumerate(_ROLES)}
_UNWRAPPED = {"xu": "x", "yu": "y", "zu": "z"}


@dataclass(frozen=True)
class DumpHeader:
    """Layout of a dump, read from its first frame."""

    columns: tuple[str, ...]
    n_atoms: int
    has_images: bool
    roles: np.ndarray  # (n_columns,) int64, -1 for ignored columns


@dataclass(frozen=True)
class FirstFrame:
    """Per-atom identity from the first frame, sorted by atom id."""

    ids: np.ndarray  # (n_atoms,) int64
    types: np.ndarray  # (n_atoms,) int64
    mols: np.ndarray  # (n_atoms,) int64, -1 when the dump has no mol column
    masses: np.ndarray  # (n_atoms,) float64, g/mol as dumped


def read_header(path: Path) -> DumpHeader:
    """Read and check the first frame header of a LAMMPS dump."""
    with open(path, "rb") as handle:
        lines = [handle.readline().decode("ascii", "replace") for _ in range(9)]
    if not lines[0].startswith("ITEM: TIMESTEP"):
        raise TrajectoryError(f"{path}: not a LAMMPS text dump (no 'ITEM: TIMESTEP' first line)")
    if not lines[4].startswith("ITEM: BOX BOUNDS"):
        raise TrajectoryError(f"{path}: malformed header, expected 'ITEM: BOX BOUNDS' on line 5")
    if "xy" in lines[4].split():
        raise TrajectoryError(f"{path}: triclinic box ('{lines[4].strip()}') is unsupported; "
                              "polyhpc analyzes orthogonal boxes only")
    if not lines[8].startswith("ITEM: ATOMS"):
        raise TrajectoryError(f"{path}: malformed header, expected 'ITEM: ATOMS' on line 9")
    columns = tuple(lines[8].split()[2:])
    try:
        n_atoms = int(lines[3])
    except ValueError:
        raise TrajectoryError(f"{path}: bad atom count {lines[3].strip()!r}") from None
    if not 0 < n_atoms * 2 * max(1, len(lines[8].split()) - 2) <= os.path.getsize(path):
        raise TrajectoryError(f"{path}: atom count {n_atoms} does not fit the file")
    names = [_UNWRAPPED.get(c, c) for c in columns]
    unwrapped = {"xu", "yu", "zu"} <= set(columns)
    has_images = not unwrapped and {"ix", "iy", "iz"} <= set(columns)
    required = ["id", "type", "mass"]
    required += ["xu", "yu", "zu"] if unwrapped else ["x", "y", "z", "ix", "iy", "iz"]
    missing = [c for c in required if c not in columns]
    if missing:
        raise TrajectoryError(f"{path}: dump lacks column(s) {' '.join(missing)} "
                              f"(has: {' '.join(columns)})")
    roles = np.array([_ROLE.get(name, -1) for name in names], dtype=np.int64)
    if unwrapped:
        roles[[i for i, n in enumerate(names) if n in ("ix", "iy", "iz")]] = -1
    return DumpHeader(columns, n_atoms, has_images, roles)


def read_first_frame(path: Path, header: DumpHeader) -> FirstFrame:
    """Parse the first frame's identity columns."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = np.frombuffer(handle.read(min(size, 200 * header.n_atoms + 4096)), np.uint8)
    box = np.zeros((3, 2))
    _, n_atoms, p, ok = text.parse_header(head, 0, head.shape[0], box)
    rows = np.empty((header.n_atoms, 10))
    code, _ = text.parse_atoms(head, p, head.shape[0], header.n_atoms, header.roles, rows)
    if not ok or code != text.OK:
        raise TrajectoryError(f"{path}: cannot parse the first frame")
    has_mol = "mol" in header.columns
    identity = rows[:, [0, 1, 2]] if has_mol else rows[:, [0, 2]]
    if not np.array_equal(identity, np.floor(identity)):
        raise TrajectoryError(f"{path}: the first frame has an atom id, molecule or type that "
                              "is not an integer")
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    return FirstFrame(
        ids=rows[:, 0].astype(np.int64),
        types=rows[:, 2].astype(np.int64),
        mols=rows[:, 1].astype(np.int64) if has_mol else np.full(len(rows), -1, np.int64),
        masses=rows[:, 3].copy(),
    )


@dataclass(frozen=True)
class DumpFrames:
    """What the streaming pass returns (kept atoms only)."""

    timesteps: np.ndarray  # (n_frames,) int64
    boxes: np.ndarray  # (n_frames, 3, 2) float64, Å, lo/hi
    positions: np.ndarray  # (n_frames, n_kept, 3) float64, Å, unwrapped
    com: np.ndarray  # (n_frames, 3) float64, Å, all-atom centre of mass
    dropped_truncated: bool


def stream_frames(path: Path, header: DumpHeader, slot_of_id: np.ndarray,
                  mass_of_id: np.ndarray, n_kept: int, allow_truncated: bool = False,
                  chunk_bytes: int = 128 << 20,
                  progress: Callable[[int], None] | None = None,
                  known_ids: np.ndarray | None = None) -> DumpFrames:
    """Parse every frame, keeping the atoms whose ``slot_of_id`` is >= 0.

    Parameters
    ----------
    slot_of_id : (max_id + 1,) int64
        Row of each kept atom id in ``positions``; -1 for atoms not kept.
    mass_of_id : (max_id + 1,) float64
        Mass of each atom id (weights of the centre of mass).
    known_ids : (n_atoms,) int, optional
        The ids every frame must hold once each (default: those with a mass).
    """
    size = os.path.getsize(path)
    known_id = np.zeros(slot_of_id.shape[0], np.bool_)
    if known_ids is None:
        known_id[:] = np.asarray(mass_of_id)[:slot_of_id.shape[0]] > 0
    else:
        known_id[np.asarray(known_ids, np.int64)] = True
    # After the first frame only ids and coordinates are needed: skip the rest.
    stream_roles = np.where(np.isin(header.roles, [_ROLE[r] for r in ("mol", "type", "mass")]),
                            -1, header.roles)
    parts: list[tuple] = []
    carry = b""
    offset = 0
    frame_index = 0
    dropped = False
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk_bytes)
            at_eof = len(block) < chunk_bytes
            buf = np.frombuffer(carry + block, dtype=np.uint8)
            starts = np.empty(max(16, buf.shape[0] // max(1, 30 * header.n_atoms)), np.int64)
            found = text.find_frames(buf, 0, buf.shape[0], text.TIMESTEP, starts)
            if found > starts.shape[0]:
                starts = np.empty(found, np.int64)
                text.find_frames(buf, 0, buf.shape[0], text.TIMESTEP, starts)
            starts = starts[:found]
            if at_eof:
                ends = np.append(starts[1:], buf.shape[0])
            else:
                if found < 2:
                    # A frame larger than the chunk: read more before parsing.
                    carry = buf.tobytes()
                    chunk_bytes *= 2
                    continue
                ends = starts[1:]
                starts = starts[:-1]
            n = starts.shape[0]
            positions = np.zeros((n, n_kept, 3))
            com = np.zeros((n, 3))
            boxes = np.zeros((n, 3, 2))
            timesteps = np.zeros(n, np.int64)
            status = np.zeros(n, np.int64)
            detail = np.zeros(n, np.int64)
            text.parse_frames(buf, starts, ends, header.n_atoms, stream_roles, header.has_images,
                          slot_of_id, known_id, mass_of_id, positions, com, boxes, timesteps,
                          status, detail, text.TIMESTEP)
            bad = np.flatnonzero(status)
            if bad.size:
                first = int(bad[0])
                code = int(status[first])
                where = f"frame {frame_index + first}"
                last_frame = at_eof and first == n - 1
                if code == text.PARTIAL_NEXT and last_frame and allow_truncated:
                    dropped = True
                    n = first + 1
                elif code == text.PARTIAL_NEXT and last_frame:
                    raise TrajectoryError(
                        f"{path}: frame {frame_index + first + 1} is truncated in its header; "
                        "pass --allow-truncated to drop it")
                elif code == text.TRUNCATED and last_frame and allow_truncated:
                    dropped = True
                    n = first
                elif code == text.TRUNCATED and last_frame:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) is truncated; "
                        "pass --allow-truncated to drop it")
                elif code == text.PARTIAL_NEXT:
                    raise TrajectoryError(f"{path}: {where} (timestep {timesteps[first]}) has "
                                          "more lines than its atoms")
                elif code == text.COUNT_CHANGED:
                    raise TrajectoryError(
                        f"{path}: {where} has {detail[first]} atoms, the first frame "
                        f"{header.n_atoms}; atom counts must not change between frames")
                elif code == text.BAD_ID:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) has atom id "
                        f"{detail[first]} twice or not in the first frame (or not an integer)")
                elif code == text.OUTSIDE:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) puts atom "
                        f"{detail[first]} outside the box (wrapped x y z must lie in it)")
                elif code == text.EXTRA:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) has more lines than "
                        f"its {header.n_atoms} atoms")
                else:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) is malformed "
                        "(a number could not be parsed, or a line has too many or too few "
                        "columns)")
            parts.append((timesteps[:n], boxes[:n], positions[:n], com[:n]))
            frame_index += n
            consumed = int(ends[-1]) if not at_eof and n else buf.shape[0]
            carry = buf[consumed:].tobytes() if not at_eof else b""
            offset += len(block)
            if progress is not None:
                progress(min(offset, size))
            if at_eof:
                break
    if frame_index == 0:
        raise TrajectoryError(f"{path}: no complete frame")
    return DumpFrames(
        timesteps=np.concatenate([p[0] for p in parts]),
        boxes=np.concatenate([p[1] for p in parts]),
        positions=np.concatenate([p[2] for p in parts]),
        com=np.concatenate([p[3] for p in parts]),
        dropped_truncated=dropped,
    )
