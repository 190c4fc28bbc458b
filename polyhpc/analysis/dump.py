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


# Why a frame of the dump is refused, by parser status. Format fields: path, where ("frame
# 3"), timestep, detail (the atom count or id the status names) and n_atoms.
_REFUSALS = {
    text.PARTIAL_NEXT: "{path}: {where} (timestep {timestep}) has more lines than its atoms",
    text.COUNT_CHANGED: "{path}: {where} has {detail} atoms, the first frame {n_atoms}; atom "
                        "counts must not change between frames",
    text.BAD_ID: "{path}: {where} (timestep {timestep}) has atom id {detail} twice or not in "
                 "the first frame (or not an integer)",
    text.OUTSIDE: "{path}: {where} (timestep {timestep}) puts atom {detail} outside the box "
                  "(wrapped x y z must lie in it)",
    text.EXTRA: "{path}: {where} (timestep {timestep}) has more lines than its {n_atoms} atoms",
}
_MALFORMED = ("{path}: {where} (timestep {timestep}) is malformed (a number could not be "
              "parsed, or a line has too many or too few columns)")
# A damaged last frame of the file, dropped with --allow-truncated: frames kept counting from
# the damaged one (PARTIAL_NEXT: the frame is whole, the next header is cut short), and the
# refusal without that flag. ``next_frame`` is the frame after the damaged one.
_TRUNCATIONS = {
    text.TRUNCATED: (0, "{path}: {where} (timestep {timestep}) is truncated"),
    text.PARTIAL_NEXT: (1, "{path}: frame {next_frame} is truncated in its header"),
}


@dataclass(frozen=True)
class _Chunk:
    """Frames parsed from one chunk of bytes, with the parser's status of each."""

    timesteps: np.ndarray  # (n,) int64
    boxes: np.ndarray  # (n, 3, 2) float64, Å
    positions: np.ndarray  # (n, n_kept, 3) float64, Å, unwrapped
    com: np.ndarray  # (n, 3) float64, Å
    status: np.ndarray  # (n,) int64, dumptext status codes
    detail: np.ndarray  # (n,) int64, atom count or id a status names


def _frame_starts(buf: np.ndarray, n_atoms: int) -> np.ndarray:
    """Byte offsets of every ``ITEM: TIMESTEP`` line in ``buf``."""
    starts = np.empty(max(16, buf.shape[0] // max(1, 30 * n_atoms)), np.int64)
    found = text.find_frames(buf, 0, buf.shape[0], text.TIMESTEP, starts)
    if found > starts.shape[0]:
        starts = np.empty(found, np.int64)
        text.find_frames(buf, 0, buf.shape[0], text.TIMESTEP, starts)
    return starts[:found]


def _parse_chunk(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, header: DumpHeader,
                 roles: np.ndarray, slot_of_id: np.ndarray, known_id: np.ndarray,
                 mass_of_id: np.ndarray, n_kept: int) -> _Chunk:
    """Parse the frames ``buf[starts[f]:ends[f]]`` in parallel."""
    n = starts.shape[0]
    chunk = _Chunk(timesteps=np.zeros(n, np.int64), boxes=np.zeros((n, 3, 2)),
                   positions=np.zeros((n, n_kept, 3)), com=np.zeros((n, 3)),
                   status=np.zeros(n, np.int64), detail=np.zeros(n, np.int64))
    text.parse_frames(buf, starts, ends, header.n_atoms, roles, header.has_images, slot_of_id,
                      known_id, mass_of_id, chunk.positions, chunk.com, chunk.boxes,
                      chunk.timesteps, chunk.status, chunk.detail, text.TIMESTEP)
    return chunk


def _accepted_frames(path: Path, chunk: _Chunk, first_index: int, at_eof: bool,
                     allow_truncated: bool, n_atoms: int) -> tuple[int, bool]:
    """Frames of ``chunk`` to keep and whether a truncated last frame was dropped.

    Raises
    ------
    TrajectoryError
        Naming the first damaged frame and why (:data:`_REFUSALS`), unless it
        is the file's truncated last frame and ``allow_truncated`` is set.
    """
    bad = np.flatnonzero(chunk.status)
    if not bad.size:
        return chunk.status.shape[0], False
    first = int(bad[0])
    code = int(chunk.status[first])
    fields = {"path": path, "where": f"frame {first_index + first}",
              "next_frame": first_index + first + 1, "timestep": chunk.timesteps[first],
              "detail": chunk.detail[first], "n_atoms": n_atoms}
    if code in _TRUNCATIONS and at_eof and first == chunk.status.shape[0] - 1:
        kept, message = _TRUNCATIONS[code]
        if allow_truncated:
            return first + kept, True
        raise TrajectoryError(message.format(**fields) + "; pass --allow-truncated to drop it")
    raise TrajectoryError(_REFUSALS.get(code, _MALFORMED).format(**fields))


def _known_id_mask(slot_of_id: np.ndarray, mass_of_id: np.ndarray,
                   known_ids: np.ndarray | None) -> np.ndarray:
    """(max_id + 1,) bool: the ids every frame must hold once each."""
    known_id = np.zeros(slot_of_id.shape[0], np.bool_)
    if known_ids is None:
        known_id[:] = np.asarray(mass_of_id)[:slot_of_id.shape[0]] > 0
    else:
        known_id[np.asarray(known_ids, np.int64)] = True
    return known_id


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
    known_id = _known_id_mask(slot_of_id, mass_of_id, known_ids)
    # After the first frame only ids and coordinates are needed: skip the rest.
    stream_roles = np.where(np.isin(header.roles, [_ROLE[r] for r in ("mol", "type", "mass")]),
                            -1, header.roles)
    parts: list[tuple[_Chunk, int]] = []  # each chunk and its frames kept
    carry = b""
    offset = 0
    frame_index = 0
    dropped = False
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk_bytes)
            at_eof = len(block) < chunk_bytes
            buf = np.frombuffer(carry + block, dtype=np.uint8)
            starts = _frame_starts(buf, header.n_atoms)
            if at_eof:
                ends = np.append(starts[1:], buf.shape[0])
            elif starts.shape[0] < 2:
                # A frame larger than the chunk: read more before parsing.
                carry = buf.tobytes()
                chunk_bytes *= 2
                continue
            else:
                starts, ends = starts[:-1], starts[1:]
            chunk = _parse_chunk(buf, starts, ends, header, stream_roles, slot_of_id, known_id,
                                 mass_of_id, n_kept)
            n, dropped = _accepted_frames(path, chunk, frame_index, at_eof, allow_truncated,
                                          header.n_atoms)
            parts.append((chunk, n))
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
        timesteps=np.concatenate([chunk.timesteps[:n] for chunk, n in parts]),
        boxes=np.concatenate([chunk.boxes[:n] for chunk, n in parts]),
        positions=np.concatenate([chunk.positions[:n] for chunk, n in parts]),
        com=np.concatenate([chunk.com[:n] for chunk, n in parts]),
        dropped_truncated=dropped,
    )
