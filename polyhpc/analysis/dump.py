"""Streaming reader for LAMMPS text dumps (``dump custom``), in Numba.

The file is read in chunks of whole frames; frame boundaries are found with a
byte scan and the frames of a chunk are parsed in parallel straight from the
bytes (no Python string per line). Only the atoms the analysis needs are kept
for every frame; the centre of mass of *all* atoms is accumulated on the fly,
so memory stays bounded by what is kept.

Supported: any column order; ``x y z`` with ``ix iy iz`` image flags, or
``xu yu zu``; sorted or unsorted ids; orthogonal boxes. Triclinic boxes are
rejected with a clear message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from polyhpc.errors import TrajectoryError

_TIMESTEP = np.frombuffer(b"ITEM: TIMESTEP", dtype=np.uint8)

# Column roles understood by the parser.
_ROLES = ("id", "mol", "type", "mass", "x", "y", "z", "ix", "iy", "iz")
_ROLE = {name: index for index, name in enumerate(_ROLES)}
_UNWRAPPED = {"xu": "x", "yu": "y", "zu": "z"}

# Frame status codes.
_OK, _TRUNCATED, _COUNT_CHANGED, _BAD_NUMBER = 0, 1, 2, 3

_POW10 = np.array([10.0**k for k in range(23)])


@numba.njit(cache=True)
def _parse_number(buf, p, end):
    """Parse one decimal number at ``buf[p]``; return (value, next p, ok)."""
    while p < end and (buf[p] == 32 or buf[p] == 9):
        p += 1
    if p >= end or buf[p] == 10:
        return 0.0, p, False
    negative = False
    if buf[p] == 45:
        negative = True
        p += 1
    elif buf[p] == 43:
        p += 1
    mantissa = 0
    digits = 0
    scale = 0
    seen = False
    while p < end and 48 <= buf[p] <= 57:
        if digits < 18:
            mantissa = mantissa * 10 + (buf[p] - 48)
            if mantissa:
                digits += 1
        else:
            scale += 1
        seen = True
        p += 1
    if p < end and buf[p] == 46:
        p += 1
        while p < end and 48 <= buf[p] <= 57:
            if digits < 18:
                mantissa = mantissa * 10 + (buf[p] - 48)
                if mantissa:
                    digits += 1
                scale -= 1
            seen = True
            p += 1
    if not seen:
        return 0.0, p, False
    if p < end and (buf[p] == 101 or buf[p] == 69):
        p += 1
        exp_negative = False
        if p < end and buf[p] == 45:
            exp_negative = True
            p += 1
        elif p < end and buf[p] == 43:
            p += 1
        exponent = 0
        exp_seen = False
        while p < end and 48 <= buf[p] <= 57:
            exponent = exponent * 10 + (buf[p] - 48)
            exp_seen = True
            p += 1
        if not exp_seen:
            return 0.0, p, False
        scale += -exponent if exp_negative else exponent
    value = float(mantissa)
    while scale > 22:
        value *= 1e22
        scale -= 22
    while scale < -22:
        value /= 1e22
        scale += 22
    if scale > 0:
        value *= _POW10[scale]
    elif scale < 0:
        value /= _POW10[-scale]
    if p < end and not (buf[p] == 32 or buf[p] == 9 or buf[p] == 10 or buf[p] == 13):
        return 0.0, p, False
    return (-value if negative else value), p, True


@numba.njit(cache=True)
def _skip_token(buf, p, end):
    """Skip one whitespace-delimited token; return (next p, ok)."""
    while p < end and (buf[p] == 32 or buf[p] == 9):
        p += 1
    if p >= end or buf[p] == 10:
        return p, False
    while p < end and not (buf[p] == 32 or buf[p] == 9 or buf[p] == 10 or buf[p] == 13):
        p += 1
    return p, True


@numba.njit(cache=True)
def _next_line(buf, p, end):
    while p < end and buf[p] != 10:
        p += 1
    return p + 1


@numba.njit(cache=True)
def _find_frames(buf, start, end, pattern, out):
    """Offsets of lines starting with ``ITEM: TIMESTEP`` in ``buf[start:end]``."""
    count = 0
    n = pattern.shape[0]
    p = start
    while p + n <= end:
        if buf[p] == pattern[0]:
            match = True
            for k in range(1, n):
                if buf[p + k] != pattern[k]:
                    match = False
                    break
            if match and (p == 0 or buf[p - 1] == 10):
                if count < out.shape[0]:
                    out[count] = p
                count += 1
        p = _next_line(buf, p, end)
    return count


@numba.njit(cache=True)
def _parse_header(buf, p, end, box):
    """Parse a frame header; return (timestep, n_atoms, p after ATOMS line, ok)."""
    p = _next_line(buf, p, end)
    timestep, p, ok = _parse_number(buf, p, end)
    if not ok:
        return 0, 0, p, False
    p = _next_line(buf, p, end)
    p = _next_line(buf, p, end)
    n_atoms, p, ok = _parse_number(buf, p, end)
    if not ok:
        return 0, 0, p, False
    p = _next_line(buf, p, end)
    p = _next_line(buf, p, end)
    for d in range(3):
        lo, p, ok1 = _parse_number(buf, p, end)
        hi, p, ok2 = _parse_number(buf, p, end)
        if not (ok1 and ok2):
            return 0, 0, p, False
        box[d, 0] = lo
        box[d, 1] = hi
        p = _next_line(buf, p, end)
    p = _next_line(buf, p, end)
    return int(timestep), int(n_atoms), p, p <= end


@numba.njit(cache=True)
def _parse_atoms(buf, p, end, n_atoms, roles, out):
    """Parse ``n_atoms`` rows into ``out[:, role]``; return (status, p)."""
    values = np.zeros(10)
    for a in range(n_atoms):
        for c in range(roles.shape[0]):
            if roles[c] < 0:
                p, ok = _skip_token(buf, p, end)
            else:
                value, p, ok = _parse_number(buf, p, end)
                values[roles[c]] = value
            if not ok:
                if p >= end:
                    return _TRUNCATED, p
                return _BAD_NUMBER, p
        p = _next_line(buf, p, end)
        if p > end + 1:
            return _TRUNCATED, p
        for r in range(10):
            out[a, r] = values[r]
    return _OK, p


@numba.njit(parallel=True, cache=True)
def _parse_frames(buf, starts, ends, n_atoms, roles, has_images, slot_of_id,
                  mass_of_id, positions, com, boxes, timesteps, status):
    """Parse frames in parallel: kept unwrapped positions and all-atom COM."""
    for f in numba.prange(starts.shape[0]):
        box = np.zeros((3, 2))
        timestep, count, p, ok = _parse_header(buf, starts[f], ends[f], box)
        timesteps[f] = timestep
        if not ok:
            status[f] = _TRUNCATED
            continue
        if count != n_atoms:
            status[f] = _COUNT_CHANGED
            timesteps[f] = count
            continue
        boxes[f] = box
        rows = np.empty((n_atoms, 10))
        code, p = _parse_atoms(buf, p, ends[f], n_atoms, roles, rows)
        if code != _OK:
            status[f] = code
            continue
        total = 0.0
        cx = 0.0
        cy = 0.0
        cz = 0.0
        lx = box[0, 1] - box[0, 0]
        ly = box[1, 1] - box[1, 0]
        lz = box[2, 1] - box[2, 0]
        for a in range(n_atoms):
            atom_id = int(rows[a, 0])
            if atom_id < 0 or atom_id >= slot_of_id.shape[0]:
                status[f] = _BAD_NUMBER
                break
            x = rows[a, 4]
            y = rows[a, 5]
            z = rows[a, 6]
            if has_images:
                x += rows[a, 7] * lx
                y += rows[a, 8] * ly
                z += rows[a, 9] * lz
            m = mass_of_id[atom_id]
            total += m
            cx += m * x
            cy += m * y
            cz += m * z
            slot = slot_of_id[atom_id]
            if slot >= 0:
                positions[f, slot, 0] = x
                positions[f, slot, 1] = y
                positions[f, slot, 2] = z
        com[f, 0] = cx / total
        com[f, 1] = cy / total
        com[f, 2] = cz / total


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
    _, n_atoms, p, ok = _parse_header(head, 0, head.shape[0], box)
    rows = np.empty((header.n_atoms, 10))
    code, _ = _parse_atoms(head, p, head.shape[0], header.n_atoms, header.roles, rows)
    if not ok or code != _OK:
        raise TrajectoryError(f"{path}: cannot parse the first frame")
    order = np.argsort(rows[:, 0], kind="stable")
    rows = rows[order]
    has_mol = "mol" in header.columns
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
                  progress: Callable[[int], None] | None = None) -> DumpFrames:
    """Parse every frame, keeping the atoms whose ``slot_of_id`` is >= 0."""
    size = os.path.getsize(path)
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
            found = _find_frames(buf, 0, buf.shape[0], _TIMESTEP, starts)
            if found > starts.shape[0]:
                starts = np.empty(found, np.int64)
                _find_frames(buf, 0, buf.shape[0], _TIMESTEP, starts)
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
            _parse_frames(buf, starts, ends, header.n_atoms, stream_roles, header.has_images,
                          slot_of_id, mass_of_id, positions, com, boxes, timesteps, status)
            bad = np.flatnonzero(status)
            if bad.size:
                first = int(bad[0])
                code = int(status[first])
                where = f"frame {frame_index + first}"
                last_frame = at_eof and first == n - 1
                if code == _TRUNCATED and last_frame and allow_truncated:
                    dropped = True
                    n = first
                elif code == _TRUNCATED and last_frame:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) is truncated; "
                        "pass --allow-truncated to drop it")
                elif code == _COUNT_CHANGED:
                    raise TrajectoryError(
                        f"{path}: {where} has {timesteps[first]} atoms, the first frame "
                        f"{header.n_atoms}; atom counts must not change between frames")
                else:
                    raise TrajectoryError(
                        f"{path}: {where} (timestep {timesteps[first]}) is malformed "
                        "(a number could not be parsed or an atom id is unknown)")
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
