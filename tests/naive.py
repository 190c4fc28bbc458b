"""Slow, obviously correct twins of the Numba kernels (house style item 14)."""

import functools
import itertools
import math
import re

import numpy as np


def msd_all_origins(positions):
    n = positions.shape[0]
    out = np.zeros(n)
    for lag in range(1, n):
        out[lag] = np.mean(np.sum((positions[lag:] - positions[:-lag]) ** 2, axis=-1))
    return out


def clusters(positions, box, cutoff, molecules=None):
    """Breadth-first search over an all-pairs minimum-image contact graph."""
    n = len(positions)
    linked = [[False] * n for _ in range(n)]
    for i, j in itertools.combinations(range(n), 2):
        delta = positions[j] - positions[i]
        delta -= box * np.round(delta / box)
        close = np.sqrt(np.sum(delta**2)) <= cutoff
        same = molecules is not None and molecules[i] >= 0 and molecules[i] == molecules[j]
        linked[i][j] = linked[j][i] = close or same
    labels = [-1] * n
    for start in range(n):
        if labels[start] >= 0:
            continue
        stack, members = [start], []
        labels[start] = start
        while stack:
            i = stack.pop()
            members.append(i)
            for j in range(n):
                if linked[i][j] and labels[j] < 0:
                    labels[j] = start
                    stack.append(j)
    return np.array(labels)


def population(labels, is_cation, is_anion, size=50):
    out = np.zeros((size, size))
    for root in set(labels.tolist()):
        members = labels == root
        out[int(is_cation[members].sum()), int(is_anion[members].sum())] += 1
    return out


# ----------------------------------------------------------------- LAMMPS text dumps
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_SEPARATOR = re.compile(r"[ \t]+")
# Standard atomic weights H..Kr (g/mol), the table the HTP-MD analysis uses.
_WEIGHTS = [1.008, 4.002602, 6.94, 9.0121831, 10.81, 12.011, 14.007, 15.999, 18.998403163,
            20.1797, 22.98976928, 24.305, 26.9815385, 28.085, 30.973761998, 32.06, 35.45,
            39.948, 39.0983, 40.078, 44.955908, 47.867, 50.9415, 51.9961, 54.938044, 55.845,
            58.933194, 58.6934, 63.546, 65.38, 69.723, 72.63, 74.921595, 78.971, 79.904,
            83.798]


class DumpRejected(Exception):
    """The twin's verdict: not a well-formed LAMMPS text dump."""


@functools.cache
def _tokens(line):
    """Blank-separated tokens of a line (a trailing CR is a blank), each with its number."""
    stripped = line.rstrip(" \t\r").lstrip(" \t")
    tokens = _SEPARATOR.split(stripped) if stripped else []
    values = []
    for token in tokens:
        value = float(token) if _NUMBER.fullmatch(token) else None
        values.append(value if value is not None and math.isfinite(value) else None)
    return tuple(tokens), tuple(values)


@functools.cache
def _row(line, n_columns, used, integral):
    """Numbers of one atom row; refuses a wrong column count or a bad used number."""
    tokens, values = _tokens(line)
    if len(tokens) != n_columns or any("\r" in t for t in tokens):
        raise DumpRejected(f"{len(tokens)} columns: {line!r}")
    if any(values[k] is None for k in used):
        raise DumpRejected(f"not a number: {line!r}")
    if any(values[k] != int(values[k]) for k in integral):
        raise DumpRejected(f"not an integer: {line!r}")
    return values


def _numbers(line, count, integral=False):
    tokens, values = _tokens(line)
    if len(tokens) != count or None in values:
        raise DumpRejected(f"expected {count} numbers: {line!r}")
    if integral and any(v != int(v) for v in values):
        raise DumpRejected(f"expected integers: {line!r}")
    return values


def read_dump(path):
    """Parse a dump line by line with plain Python, refusing anything ill-formed.

    Rules: frames start at lines beginning ``ITEM: TIMESTEP``; the timestep,
    atom-count and box lines hold exactly their numbers; each atom row holds
    exactly one token per column, numbers where the analysis reads them
    (integers for ids, image flags, and in the first frame types and
    molecules); only blank lines may follow a frame's rows; every frame holds
    the first frame's atom ids once each; wrapped coordinates lie within half
    a box length of the box; masses are within 0.5 g/mol of an element.
    Columns the analysis ignores (``q``; ``type``, ``mol``, ``mass`` after
    the first frame) may hold any token.

    Returns
    -------
    dict
        ``ids, types, mols, masses`` (first frame, sorted by id), ``timesteps``,
        ``boxes`` ((n_frames, 3) lengths, Å), ``positions`` ((n_frames, n_atoms,
        3) unwrapped, Å, atoms in id order).
    """
    text = path.read_bytes().decode("latin-1")
    starts = [m.start() for m in re.finditer(r"(?m)^ITEM: TIMESTEP", text)]
    if not starts or starts[0] != 0:
        raise DumpRejected("no ITEM: TIMESTEP first line")
    lines = text[:starts[1] if len(starts) > 1 else len(text)].split("\n")
    if len(lines) < 9 or not lines[4].startswith("ITEM: BOX BOUNDS") or "xy" in \
            lines[4].split() or not lines[8].startswith("ITEM: ATOMS"):
        raise DumpRejected("malformed first header")
    columns = tuple(lines[8].split()[2:])
    blocks = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    first = _frame(blocks[0], columns, None)
    frames = [first] + [_frame(block, columns, first["ids"]) for block in blocks[1:]]
    distance = np.abs(first["masses"][:, None] - np.array(_WEIGHTS)[None, :])
    if np.any(distance.min(axis=1) > 0.5):
        raise DumpRejected("a mass matches no element")
    return {"ids": first["ids"], "types": first["types"], "mols": first["mols"],
            "masses": first["masses"], "atomic_numbers": distance.argmin(axis=1) + 1,
            "standard_masses": np.array(_WEIGHTS)[distance.argmin(axis=1)],
            "timesteps": np.array([f["timestep"] for f in frames]),
            "boxes": np.array([f["lengths"] for f in frames]),
            "positions": np.array([f["positions"] for f in frames])}


@functools.lru_cache(maxsize=64)
def _frame(block, columns, first_ids):
    """One frame (its text from ``ITEM: TIMESTEP`` on); ``first_ids`` None for the first.

    Cached by text: fuzzing changes a few frames of a file, the rest are hits.
    """
    first = first_ids is None
    index = {name: k for k, name in enumerate(columns)}  # a repeated name: the last one
    unwrapped = {"xu", "yu", "zu"} <= set(columns)
    coords = [index[c] for c in (("xu", "yu", "zu") if unwrapped else ("x", "y", "z"))
              if c in index]
    images = [] if unwrapped else [index[c] for c in ("ix", "iy", "iz") if c in index]
    if len(coords) != 3 or not (unwrapped or len(images) == 3):
        raise DumpRejected("no coordinates")
    if not {"id", "type", "mass"} <= set(columns):
        raise DumpRejected("no id, type or mass column")
    lines = block.split("\n")
    if len(lines) < 9:
        raise DumpRejected("short header")
    (timestep,) = _numbers(lines[1], 1, integral=True)
    (count,) = _numbers(lines[3], 1, integral=True)
    box = [_numbers(lines[5 + d], 2) for d in range(3)]
    count = int(count)
    if count <= 0 or not first and count != len(first_ids):
        raise DumpRejected(f"{count} atoms")
    rows = lines[9:9 + count]
    if len(rows) < count or any(line.strip(" \t\r") for line in lines[9 + count:]):
        raise DumpRejected("rows missing or extra lines")
    lengths = np.array([hi - lo for lo, hi in box])
    used = [index["id"], *coords, *images]
    integral = [index["id"], *images]
    if first:
        extra = [index["type"]] + ([index["mol"]] if "mol" in index else [])
        used += [*extra, index["mass"]]
        integral += extra
    table = {}
    for line in rows:
        values = _row(line, len(columns), tuple(used), tuple(integral))
        atom = int(values[index["id"]])
        if atom in table:
            raise DumpRejected(f"atom {atom} twice")
        table[atom] = values
    ids = tuple(sorted(table))
    if not first and ids != first_ids:
        raise DumpRejected("other atom ids than the first frame")
    values = [table[i] for i in ids]
    xyz = np.array([[v[k] for k in coords] for v in values])
    low, high = np.array(box).T
    if images and np.any((xyz < low - lengths / 2) | (xyz > high + lengths / 2)):
        raise DumpRejected("a wrapped coordinate outside the box")
    if images:
        xyz = xyz + np.array([[v[k] for k in images] for v in values]) * lengths
    frame = {"timestep": int(timestep), "lengths": lengths, "positions": xyz, "ids": ids}
    if first:
        if ids[0] < 0:
            raise DumpRejected("negative atom id")
        frame.update(masses=np.array([v[index["mass"]] for v in values]),
                     types=np.array([int(v[index["type"]]) for v in values]),
                     mols=np.array([int(v[index["mol"]]) if "mol" in index else -1
                                    for v in values]))
    return frame


def kept_trajectory(dump, meta):
    """The atoms the HTP-MD analysis keeps, drift removed with the all-atom centre of mass."""
    types, z = dump["types"], dump["atomic_numbers"]
    low, high = meta.polymer_type_range
    ions = np.isin(types, [meta.cation_type, meta.anion_type, *meta.cluster_anion_types])
    solvent = (types >= low) & (types <= high) & np.isin(z, meta.solvate_atomic_numbers)
    keep = ions | solvent
    m = dump["standard_masses"]
    com = (dump["positions"] * m[None, :, None]).sum(axis=1) / m.sum()
    return {"ids": np.array(dump["ids"])[keep], "types": types[keep],
            "positions": dump["positions"][:, keep] - com[:, None, :],
            "boxes": dump["boxes"], "timesteps": dump["timesteps"]}


def conductivity_S_per_cm(path, meta, max_cluster=10):
    """Cluster Nernst-Einstein conductivity from the pure-Python twin, README conventions.

    The reference's rules of ``../shared/data/README.md``: endpoint MSD after removing each
    frame's centre of mass, clusters of Li and TFSI N/O/S within 3.4 A, charge i - j, S/cm.
    """
    dump = read_dump(path)
    masses = dump["standard_masses"]
    com = (dump["positions"] * masses[None, :, None]).sum(axis=1) / masses.sum()
    positions = dump["positions"] - com[:, None, :]
    types = dump["types"]
    n_frames = positions.shape[0]

    def diffusivity_cm2_per_s(mask):
        msd_A2 = np.mean(np.sum((positions[-1, mask] - positions[0, mask]) ** 2, axis=-1))
        return msd_A2 / (6 * (n_frames - 1) * meta["time_step"]) * 1e-4

    d_li = diffusivity_cm2_per_s(types == meta["cation_raw_type"])
    d_tfsi = diffusivity_cm2_per_s(types == meta["anion_raw_type"])
    atoms = np.isin(types, [90, 93, 94, 95])
    counts = np.zeros((50, 50))
    for f in range(n_frames):
        labels = clusters(positions[f, atoms], dump["boxes"][f], 3.4, dump["mols"][atoms])
        counts += population(labels, types[atoms] == 90, types[atoms] == 93)
    counts /= n_frames
    total = 0.0
    for i in range(max_cluster):
        for j in range(max_cluster):
            if i != j:
                total += (i - j) ** 2 * counts[i, j] * (d_li if i > j else d_tfsi)
    volume_cm3 = np.prod(dump["boxes"][0]) * 1e-24
    return 1.602176634e-19**2 / (volume_cm3 * 1.380649e-23 * meta["temperature"]) * total
