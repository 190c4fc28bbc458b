"""Synthetic LAMMPS dumps of HTP-MD size, for benchmarks and tests.

The system mimics an HTP-MD production run: polymer atoms (types 1-17) that
jiggle around slowly drifting sites, Li+ (type 90) and rigid TFSI- (types
91-95: C, F, N, O, S) moving by random walks. Positions are written wrapped
with image flags consistent with the unwrapped motion, in the HTP-MD column
layout ``id mol type mass q x y z ix iy iz``, sorted by id.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from polyhpc.analysis.jit import njit

# TFSI- in HTP-MD type numbering: (type, mass, charge, offset from N in Å).
_TFSI = [
    (93, 14.0067, -0.46, (0.0, 0.0, 0.0)),
    (95, 32.06, 0.71, (1.45, 0.6, 0.0)), (95, 32.06, 0.71, (-1.45, 0.6, 0.0)),
    (94, 15.9994, -0.38, (1.9, 1.9, 0.6)), (94, 15.9994, -0.38, (2.2, -0.3, -0.9)),
    (94, 15.9994, -0.38, (-1.9, 1.9, 0.6)), (94, 15.9994, -0.38, (-2.2, -0.3, -0.9)),
    (91, 12.011, 0.24, (2.5, 0.9, 1.6)), (91, 12.011, 0.24, (-2.5, 0.9, 1.6)),
    (92, 18.998, -0.11, (3.7, 0.5, 1.3)), (92, 18.998, -0.11, (2.3, 2.2, 1.9)),
    (92, 18.998, -0.11, (2.4, 0.2, 2.8)), (92, 18.998, -0.11, (-3.7, 0.5, 1.3)),
    (92, 18.998, -0.11, (-2.3, 2.2, 1.9)), (92, 18.998, -0.11, (-2.4, 0.2, 2.8)),
]
_POLYMER_MASSES = np.array([12.0112] * 9 + [1.00797] * 2 + [14.0067] + [15.9994] * 5)
# Atoms per polymer type (1..17) in the HTP-MD reference trajectory 9-0-246295613-0.
_POLYMER_TYPE_COUNTS = np.array([168, 168, 672, 12, 156, 348, 12, 12, 156, 3096, 168, 168,
                                 12, 12, 12, 156, 312])
_META = {
    "mol_smiles": "*CCO*", "poly_smiles": "synthetic", "force_field": "synthetic",
    "material_group": "polymer", "temperature": 353.0, "time_step": 2.0,
    "cation_raw_type": 90, "anion_raw_type": 93, "polymer_raw_type_range": [0, 89],
    "polymer_solvate_types": [7, 8, 16], "salt_cation": "Li", "salt_anion": "TFSI",
}


@njit
def _put_int(buf, p, value):
    if value < 0:
        buf[p] = 45
        p += 1
        value = -value
    digits = np.empty(20, np.uint8)
    n = 0
    while True:
        digits[n] = 48 + value % 10
        value //= 10
        n += 1
        if value == 0:
            break
    for k in range(n - 1, -1, -1):
        buf[p] = digits[k]
        p += 1
    return p


@njit
def _put_float(buf, p, value, decimals):
    scale = 10**decimals
    if value < 0:
        buf[p] = 45
        p += 1
        value = -value
    scaled = int(value * scale + 0.5)
    p = _put_int(buf, p, scaled // scale)
    buf[p] = 46
    p += 1
    frac = scaled % scale
    for k in range(decimals - 1, -1, -1):
        buf[p + k] = 48 + frac % 10
        frac //= 10
    return p + decimals


@njit
def _format_frame(buf, timestep, box, ids, mols, types, masses, charges, unwrapped):
    p = 0
    header = "ITEM: TIMESTEP\n"
    for ch in header:
        buf[p] = ord(ch)
        p += 1
    p = _put_int(buf, p, timestep)
    buf[p] = 10
    p += 1
    for ch in "ITEM: NUMBER OF ATOMS\n":
        buf[p] = ord(ch)
        p += 1
    p = _put_int(buf, p, ids.shape[0])
    buf[p] = 10
    p += 1
    for ch in "ITEM: BOX BOUNDS pp pp pp\n":
        buf[p] = ord(ch)
        p += 1
    for _ in range(3):
        p = _put_float(buf, p, 0.0, 6)
        buf[p] = 32
        p = _put_float(buf, p + 1, box, 6)
        buf[p] = 10
        p += 1
    for ch in "ITEM: ATOMS id mol type mass q x y z ix iy iz\n":
        buf[p] = ord(ch)
        p += 1
    for i in range(ids.shape[0]):
        p = _put_int(buf, p, ids[i])
        buf[p] = 32
        p = _put_int(buf, p + 1, mols[i])
        buf[p] = 32
        p = _put_int(buf, p + 1, types[i])
        buf[p] = 32
        p = _put_float(buf, p + 1, masses[i], 4)
        buf[p] = 32
        p = _put_float(buf, p + 1, charges[i], 3)
        images = np.empty(3, np.int64)
        for d in range(3):
            image = int(np.floor(unwrapped[i, d] / box))
            images[d] = image
            buf[p] = 32
            p = _put_float(buf, p + 1, unwrapped[i, d] - image * box, 5)
        for d in range(3):
            buf[p] = 32
            p = _put_int(buf, p + 1, images[d])
        buf[p] = 10
        p += 1
    return p


def synthetic_system(n_atoms: int = 6440, n_pairs: int = 50, box_A: float = 40.74,
                     seed: int = 0) -> dict:
    """Identity arrays and initial positions of a synthetic electrolyte."""
    n_ion_atoms = n_pairs * (1 + len(_TFSI))
    n_polymer = n_atoms - n_ion_atoms
    if n_polymer < 1:
        raise ValueError(f"{n_atoms} atoms cannot hold {n_pairs} LiTFSI pairs")
    rng = np.random.default_rng(seed)
    share = _POLYMER_TYPE_COUNTS / _POLYMER_TYPE_COUNTS.sum()
    polymer_types = rng.choice(np.arange(1, 18), size=n_polymer, p=share)
    types = np.concatenate([polymer_types, np.full(n_pairs, 90),
                            np.tile([t[0] for t in _TFSI], n_pairs)])
    masses = np.concatenate([_POLYMER_MASSES[polymer_types - 1], np.full(n_pairs, 6.941),
                             np.tile([t[1] for t in _TFSI], n_pairs)])
    charges = np.concatenate([np.zeros(n_polymer), np.full(n_pairs, 0.7),
                              np.tile([t[2] * 0.7 / 0.46 / 3.3 for t in _TFSI], n_pairs)])
    chains = max(1, n_polymer // 400)
    mols = np.concatenate([np.arange(n_polymer) * chains // n_polymer + 1,
                           chains + 1 + np.arange(n_pairs),
                           np.repeat(chains + 1 + n_pairs + np.arange(n_pairs), len(_TFSI))])
    return {"types": types, "masses": masses, "charges": charges, "mols": mols,
            "n_polymer": n_polymer, "n_pairs": n_pairs, "box": box_A,
            "sites": rng.uniform(0, box_A, (n_atoms - n_ion_atoms + 2 * n_pairs, 3))}


def write_synthetic_dump(path: Path, n_frames: int = 2500, n_atoms: int = 6440,
                         n_pairs: int = 50, seed: int = 0, step_A: float = 0.25,
                         progress: Callable[[int], None] | None = None) -> Path:
    """Write a synthetic HTP-MD-like dump and its ``meta.json`` beside it.

    Parameters
    ----------
    path : Path
        Output ``.lammpstrj`` file.
    n_frames, n_atoms, n_pairs : int
        Size of the trajectory.
    step_A : float
        Random-walk step of the ions per frame (polymer sites move 1/5 of it).
    progress : callable, optional
        Called with the number of frames written.
    """
    import json

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    system = synthetic_system(n_atoms, n_pairs, seed=seed)
    rng = np.random.default_rng(seed + 1)
    n_polymer = system["n_polymer"]
    ids = np.arange(1, n_atoms + 1, dtype=np.int64)
    offsets = np.array([t[3] for t in _TFSI])
    centres = system["sites"].copy()  # polymer sites, then Li, then TFSI centres
    buf = np.empty(n_atoms * 80 + 1024, np.uint8)
    partial = path.with_suffix(path.suffix + ".part")
    with open(partial, "wb") as handle:
        for frame in range(n_frames):
            if frame:
                steps = rng.normal(0.0, step_A / np.sqrt(3), centres.shape)
                steps[:n_polymer] *= 0.2
                centres += steps
            jiggle = rng.normal(0.0, 0.05, (n_polymer, 3))
            li = centres[n_polymer:n_polymer + n_pairs]
            tfsi = centres[n_polymer + n_pairs:]
            unwrapped = np.concatenate([centres[:n_polymer] + jiggle, li,
                                        (tfsi[:, None, :] + offsets[None]).reshape(-1, 3)])
            size = _format_frame(buf, frame * 1000, system["box"], ids, system["mols"],
                                 system["types"], system["masses"], system["charges"],
                                 np.ascontiguousarray(unwrapped))
            handle.write(buf[:size].tobytes())
            if progress is not None:
                progress(frame + 1)
    partial.replace(path)
    (path.parent / "meta.json").write_text(json.dumps(_META, indent=2))
    return path
