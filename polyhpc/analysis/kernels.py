"""Kernels on plain arrays: MSD and ion clusters.

Each public function checks shapes, dtypes and the box and then calls a
private ``@njit`` kernel on contiguous arrays (the stumpy pattern), or NumPy
and SciPy FFTs where they are faster. Kernels do no I/O and know no units
beyond "same length unit as the box". Unwrapping (``x + ix L``) and the
removal of the all-atom centre-of-mass drift happen while the dump is parsed
(:func:`polyhpc.analysis.dump.stream_frames`), in one pass over the bytes.

Cluster detection follows the freud pattern: a cell-list neighbour search
under periodic boundaries, then connected components by union-find, then
cluster properties (the population matrix) as a separate step.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.fft

from polyhpc.analysis.jit import njit


def _as(array, dtype, ndim, name, last=None):
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.ndim != ndim or (last is not None and array.shape[-1] != last):
        shape = f"(..., {last})" if last else f"{ndim} dimensions"
        raise ValueError(f"{name} must have {shape}, got shape {array.shape}")
    return array


def _check_box(boxes, n_frames):
    boxes = _as(boxes, np.float64, 2, "boxes", 3)
    if boxes.shape[0] != n_frames:
        raise ValueError(f"boxes must have one row per frame ({n_frames}), got {boxes.shape[0]}")
    if not np.all(boxes > 0):
        raise ValueError("box lengths must be positive")
    return boxes


# --------------------------------------------------------------------------- MSD
def msd_endpoint(positions) -> float:
    """HTP-MD MSD: mean |r(last) - r(first)|² over atoms.

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3) float64
        Unwrapped, drift-free positions.
    """
    positions = _as(positions, np.float64, 3, "positions", 3)
    if positions.shape[0] < 2 or positions.shape[1] == 0:
        raise ValueError(f"need >= 2 frames and >= 1 atom, got shape {positions.shape}")
    return float(np.mean(np.sum((positions[-1] - positions[0]) ** 2, axis=-1)))


def msd_fft(positions) -> np.ndarray:
    """Multiple-time-origin MSD in O(n log n) with FFTs.

    The algorithm of Calandrini et al., Collection SFN 12, 201 (2011),
    DOI 10.1051/sfn/201112010 (as used by nMoldyn/MDAnalysis): MSD(m) =
    S1(m) - 2 S2(m), with S2 the position autocorrelation.

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3) float64
        Unwrapped, drift-free positions.

    Returns
    -------
    (n_frames,) float64
        MSD at each lag (in frames), averaged over all time origins and atoms:
        the direct sum over origins, to rounding.
    """
    positions = _as(positions, np.float64, 3, "positions", 3)
    n = positions.shape[0]
    if n < 2:
        raise ValueError(f"need >= 2 frames, got {n}")
    x = positions.transpose(1, 2, 0)  # (atoms, 3, frames)
    size = scipy.fft.next_fast_len(2 * n, real=True)
    spectrum = scipy.fft.rfft(x, n=size, axis=-1, workers=-1)
    power = spectrum.real**2 + spectrum.imag**2
    autocorr = scipy.fft.irfft(power, n=size, axis=-1, workers=-1)[..., :n]
    s2 = autocorr.sum(axis=1) / (n - np.arange(n))  # (atoms, frames)
    squares = np.sum(x**2, axis=1)  # (atoms, frames)
    zero = np.zeros((squares.shape[0], 1))
    # S1(m) = (2 sum_k r²(k) - sum_{k<m} r²(k) - sum_{k<m} r²(N-1-k)) / (N - m)
    front = np.concatenate([zero, np.cumsum(squares, axis=-1)[:, :-1]], axis=-1)
    back = np.concatenate([zero, np.cumsum(squares[:, ::-1], axis=-1)[:, :-1]], axis=-1)
    total = 2.0 * squares.sum(axis=-1, keepdims=True)
    s1 = (total - front - back) / (n - np.arange(n))
    msd = (s1 - 2.0 * s2).mean(axis=0)
    msd[0] = 0.0
    return msd


# ---------------------------------------------------------------------- clusters
@njit
def _find(parent, i):
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@njit
def _union(parent, i, j):
    ri = _find(parent, i)
    rj = _find(parent, j)
    if ri < rj:
        parent[rj] = ri
    elif rj < ri:
        parent[ri] = rj


@njit
def _distance2(pos, i, j, box):
    """Squared minimum-image distance between atoms i and j (orthogonal box)."""
    r2 = 0.0
    for d in range(3):
        delta = pos[j, d] - pos[i, d]
        delta -= box[d] * np.floor(delta / box[d] + 0.5)
        r2 += delta * delta
    return r2


@njit
def _cluster_frame(pos, box, cutoff, group_root, parent, labels):
    """Union-find over a cell list (or all pairs for small boxes)."""
    n = pos.shape[0]
    for i in range(n):
        parent[i] = i
    for i in range(n):
        _union(parent, i, group_root[i])
    cut2 = cutoff * cutoff
    ncell = np.empty(3, np.int64)
    for d in range(3):
        ncell[d] = max(1, int(box[d] / cutoff))
    if ncell[0] < 3 or ncell[1] < 3 or ncell[2] < 3:
        for i in range(n):
            for j in range(i + 1, n):
                if _distance2(pos, i, j, box) <= cut2:
                    _union(parent, i, j)
    else:
        cell = np.empty((n, 3), np.int64)
        head = np.full(ncell[0] * ncell[1] * ncell[2], -1, np.int64)
        nxt = np.empty(n, np.int64)
        for i in range(n):
            flat = 0
            for d in range(3):
                wrapped = pos[i, d] - box[d] * np.floor(pos[i, d] / box[d])
                c = int(wrapped / box[d] * ncell[d])
                if c >= ncell[d]:
                    c = ncell[d] - 1
                cell[i, d] = c
                flat = flat * ncell[d] + c
            nxt[i] = head[flat]
            head[flat] = i
        for i in range(n):
            for dx in range(-1, 2):
                cx = (cell[i, 0] + dx) % ncell[0]
                for dy in range(-1, 2):
                    cy = (cell[i, 1] + dy) % ncell[1]
                    for dz in range(-1, 2):
                        cz = (cell[i, 2] + dz) % ncell[2]
                        j = head[(cx * ncell[1] + cy) * ncell[2] + cz]
                        while j >= 0:
                            if j > i and _distance2(pos, i, j, box) <= cut2:
                                _union(parent, i, j)
                            j = nxt[j]
    for i in range(n):
        labels[i] = _find(parent, i)


@njit(parallel=True)
def _cluster_frames(positions, boxes, cutoff, group_root, labels):
    n_frames = positions.shape[0]
    n = positions.shape[1]
    for f in numba.prange(n_frames):
        parent = np.empty(n, np.int64)
        _cluster_frame(positions[f], boxes[f], cutoff, group_root, parent, labels[f])


def find_ion_clusters(positions, boxes, cutoff_A: float, molecules=None) -> np.ndarray:
    """Label ion clusters in every frame.

    Two atoms closer than ``cutoff_A`` (minimum image, inclusive) are linked;
    atoms with the same molecule id are linked too (one anion is one unit).
    A cluster's label is the smallest index of its atoms, as LAMMPS
    ``compute aggregate/atom`` labels by smallest atom id.

    Parameters
    ----------
    positions : (n_frames, n_atoms, 3) float64, Å
        Positions of the cluster atoms (wrapped or not).
    boxes : (n_frames, 3) float64, Å
        Orthogonal box lengths.
    cutoff_A : float
        Link distance (HTP-MD: 3.4 Å between Li and TFSI N/O/S).
    molecules : (n_atoms,) int, optional
        Molecule id per atom; negative ids are never joined.

    Returns
    -------
    (n_frames, n_atoms) int64
        Cluster label of each atom.
    """
    positions = _as(positions, np.float64, 3, "positions", 3)
    boxes = _check_box(boxes, positions.shape[0])
    if not cutoff_A > 0:
        raise ValueError(f"cutoff_A must be positive, got {cutoff_A}")
    n = positions.shape[1]
    group_root = np.arange(n, dtype=np.int64)
    if molecules is not None:
        molecules = _as(molecules, np.int64, 1, "molecules")
        if molecules.shape[0] != n:
            raise ValueError(f"{molecules.shape[0]} molecule ids for {n} atoms")
        first = {}
        for i, mol in enumerate(molecules.tolist()):
            if mol >= 0:
                group_root[i] = first.setdefault(mol, i)
    labels = np.empty((positions.shape[0], n), np.int64)
    _cluster_frames(positions, boxes, float(cutoff_A), group_root, labels)
    return labels


@njit(parallel=True)
def _populations(labels, is_cation, is_anion, out):
    n = labels.shape[1]
    for f in numba.prange(labels.shape[0]):
        cations = np.zeros(n, np.int64)
        anions = np.zeros(n, np.int64)
        for i in range(n):
            root = labels[f, i]
            cations[root] += is_cation[i]
            anions[root] += is_anion[i]
        for i in range(n):
            if labels[f, i] == i:
                out[f, cations[i], anions[i]] += 1


def cluster_populations(labels, is_cation, is_anion, size: int = 50) -> np.ndarray:
    """Population matrix per frame: ``P[f, i, j]`` clusters with i cations, j anions.

    Parameters
    ----------
    labels : (n_frames, n_atoms) int64
        From :func:`find_ion_clusters`.
    is_cation, is_anion : (n_atoms,) bool
        Atoms that count one cation or one anion (TFSI: its N atom only).
    size : int
        Minimum matrix size (HTP-MD writes 50 x 50); grown to fit every ion.

    Returns
    -------
    (n_frames, rows, cols) int32
    """
    labels = _as(labels, np.int64, 2, "labels")
    is_cation = _as(is_cation, np.int64, 1, "is_cation")
    is_anion = _as(is_anion, np.int64, 1, "is_anion")
    if not (is_cation.shape[0] == is_anion.shape[0] == labels.shape[1]):
        raise ValueError("is_cation and is_anion need one entry per atom of labels")
    rows = max(size, int(is_cation.sum()) + 1)
    cols = max(size, int(is_anion.sum()) + 1)
    out = np.zeros((labels.shape[0], rows, cols), np.int32)
    _populations(labels, is_cation, is_anion, out)
    return out
