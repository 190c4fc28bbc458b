"""Numba kernels that parse LAMMPS text-dump bytes (no Python string per line).

Used by :mod:`polyhpc.analysis.dump`, which reads the file in chunks and
turns statuses into messages. The frame kernel unwraps positions (``x + ix
L``) and accumulates the all-atom centre of mass as it parses, so memory
holds only the kept atoms. Parsing is strict: a header line or an atom row
holds exactly its numbers, ids and image flags are integers, each frame
holds each atom id once, wrapped coordinates lie near the box, and nothing
but blanks follows a frame's rows.
"""

from __future__ import annotations

import numba
import numpy as np

from polyhpc.analysis.jit import njit

#: First bytes of every frame.
TIMESTEP = np.frombuffer(b"ITEM: TIMESTEP", dtype=np.uint8)

# Frame status codes.
OK, TRUNCATED, COUNT_CHANGED, BAD_NUMBER, BAD_ID, EXTRA = 0, 1, 2, 3, 4, 5
PARTIAL_NEXT = 6  # a complete frame, then the start of a header cut short (end of file)
OUTSIDE = 7  # a wrapped coordinate more than half a box length outside the box

_POW10 = np.array([10.0**k for k in range(23)])


@njit
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
            mantissa = mantissa * 10 + (int(buf[p]) - 48)
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
                mantissa = mantissa * 10 + (int(buf[p]) - 48)
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
            if exponent < 100000:  # beyond any float; stop before the integer wraps
                exponent = exponent * 10 + (int(buf[p]) - 48)
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
    if value > 1.7976931348623157e308:  # overflow (1e999): not a coordinate
        return 0.0, p, False
    return (-value if negative else value), p, True


@njit
def _skip_token(buf, p, end):
    """Skip one whitespace-delimited token; return (next p, ok)."""
    while p < end and (buf[p] == 32 or buf[p] == 9):
        p += 1
    if p >= end or buf[p] == 10 or buf[p] == 13:
        return p, False
    while p < end and not (buf[p] == 32 or buf[p] == 9 or buf[p] == 10 or buf[p] == 13):
        p += 1
    return p, True


@njit
def _next_line(buf, p, end):
    while p < end and buf[p] != 10:
        p += 1
    return p + 1


@njit
def _end_of_line(buf, p, end):
    """Skip blanks to the newline; return (start of the next line, status).

    Status is ``OK`` at a newline, ``TRUNCATED`` at the end of the buffer
    and ``BAD_NUMBER`` at anything else (a token too many on the line).
    """
    while p < end and (buf[p] == 32 or buf[p] == 9 or buf[p] == 13):
        p += 1
    if p >= end:
        return p, TRUNCATED
    if buf[p] != 10:
        return p, BAD_NUMBER
    return p + 1, OK


@njit
def find_frames(buf, start, end, pattern, out):
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


@njit
def parse_header(buf, p, end, box):
    """Parse a frame header; return (timestep, n_atoms, p after ATOMS line, ok).

    The timestep, atom-count and box lines must hold exactly their numbers.
    """
    p = _next_line(buf, p, end)
    timestep, p, ok = _parse_number(buf, p, end)
    if not ok or timestep != np.floor(timestep):
        return 0, 0, p, False
    p, code = _end_of_line(buf, p, end)
    if code != OK:
        return 0, 0, p, False
    p = _next_line(buf, p, end)
    n_atoms, p, ok = _parse_number(buf, p, end)
    if not ok or n_atoms != np.floor(n_atoms) or n_atoms < 0:
        return 0, 0, p, False
    p, code = _end_of_line(buf, p, end)
    if code != OK:
        return 0, 0, p, False
    p = _next_line(buf, p, end)
    for d in range(3):
        lo, p, ok1 = _parse_number(buf, p, end)
        hi, p, ok2 = _parse_number(buf, p, end)
        if not (ok1 and ok2):
            return 0, 0, p, False
        box[d, 0] = lo
        box[d, 1] = hi
        p, code = _end_of_line(buf, p, end)
        if code != OK:
            return 0, 0, p, False
    p = _next_line(buf, p, end)
    return int(timestep), int(n_atoms), p, p <= end


@njit
def parse_atoms(buf, p, end, n_atoms, roles, out):
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
                    return TRUNCATED, p
                return BAD_NUMBER, p
        p, code = _end_of_line(buf, p, end)  # every row ends with its last column
        if code != OK:
            return code, p
        for r in range(10):
            out[a, r] = values[r]
    return OK, p


@njit
def _trailing(buf, p, end, pattern):
    """What follows a frame's rows: ``OK`` (blanks only), ``PARTIAL_NEXT`` or ``EXTRA``.

    ``PARTIAL_NEXT`` means the blanks are followed by a cut-short
    ``ITEM: TIMESTEP`` line: the next frame's header, truncated.
    """
    while p < end and (buf[p] == 32 or buf[p] == 9 or buf[p] == 10 or buf[p] == 13):
        p += 1
    if p == end:
        return OK
    if end - p >= pattern.shape[0] or buf[p - 1] != 10:
        return EXTRA
    for k in range(end - p):
        if buf[p + k] != pattern[k]:
            return EXTRA
    return PARTIAL_NEXT


@njit(parallel=True)
def parse_frames(buf, starts, ends, n_atoms, roles, has_images, slot_of_id, known_id,
                  mass_of_id, positions, com, boxes, timesteps, status, detail, pattern):
    """Parse frames in parallel: kept unwrapped positions and all-atom COM.

    A frame is accepted only if it holds each known atom id exactly once,
    with integer ids and image flags, wrapped coordinates within half a box
    length of the box, and nothing after its last row; else ``status[f]``
    says why and ``detail[f]`` holds the atom count or id.
    """
    for f in numba.prange(starts.shape[0]):
        box = np.zeros((3, 2))
        timestep, count, p, ok = parse_header(buf, starts[f], ends[f], box)
        timesteps[f] = timestep
        if not ok:
            status[f] = BAD_NUMBER if p < ends[f] else TRUNCATED
            continue
        if count != n_atoms:
            status[f] = COUNT_CHANGED
            detail[f] = count
            continue
        boxes[f] = box
        rows = np.empty((n_atoms, 10))
        code, p = parse_atoms(buf, p, ends[f], n_atoms, roles, rows)
        if code != OK:
            status[f] = code
            continue
        trailing = _trailing(buf, p, ends[f], pattern)
        if trailing == EXTRA:
            status[f] = EXTRA
            continue
        seen = np.zeros(slot_of_id.shape[0], np.bool_)
        total = 0.0
        cx = 0.0
        cy = 0.0
        cz = 0.0
        lx = box[0, 1] - box[0, 0]
        ly = box[1, 1] - box[1, 0]
        lz = box[2, 1] - box[2, 0]
        for a in range(n_atoms):
            value = rows[a, 0]
            atom_id = int(value)
            if (atom_id != value or atom_id < 0 or atom_id >= slot_of_id.shape[0]
                    or not known_id[atom_id] or seen[atom_id]):
                status[f] = BAD_ID
                detail[f] = atom_id
                break
            seen[atom_id] = True
            x = rows[a, 4]
            y = rows[a, 5]
            z = rows[a, 6]
            if has_images:
                if (rows[a, 7] != np.floor(rows[a, 7]) or rows[a, 8] != np.floor(rows[a, 8])
                        or rows[a, 9] != np.floor(rows[a, 9])):
                    status[f] = BAD_NUMBER
                    break
                if not (box[0, 0] - 0.5 * lx <= x <= box[0, 1] + 0.5 * lx
                        and box[1, 0] - 0.5 * ly <= y <= box[1, 1] + 0.5 * ly
                        and box[2, 0] - 0.5 * lz <= z <= box[2, 1] + 0.5 * lz):
                    status[f] = OUTSIDE
                    detail[f] = atom_id
                    break
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
        if status[f] == OK:
            status[f] = trailing
