"""Geometry of molecules in a periodic box: unwrapping, radii of gyration, rotations.

Used to compare polyhpc's initial chains with the HTP-MD reference data file
(``system.lmp``): both are read as positions, masses and bonds, unwrapped
along the bonds (so image flags, present or not, do not matter) and reduced
to one mass-weighted radius of gyration per chain. The rotations (Rodrigues'
formula, batched) are those the chain growth of :mod:`polyhpc.md.packing`
applies to stacks of trial placements.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["align_rotations", "radius_of_gyration", "rotation_matrices", "twist", "unwrap_bonded"]


def unwrap_bonded(xyz_A: np.ndarray, bonds: Sequence[tuple[int, int]] | np.ndarray,
                  box_A: float) -> np.ndarray:
    """Positions with every bonded neighbour at its minimum image.

    Each connected set of atoms is walked from its lowest index; an atom
    reached through a bond is moved to the image of itself closest to the
    atom it was reached from. Atoms without bonds stay where they are.

    Parameters
    ----------
    xyz_A : (n_atoms, 3) float64, Å
        Positions, wrapped or not.
    bonds : (n_bonds, 2) int
        Atom indices (0-based) of each bond.
    box_A : float, Å
        Edge of the cubic periodic box; every bond must be shorter than half of it.

    Returns
    -------
    (n_atoms, 3) float64, Å
        Unwrapped positions; the first atom of each molecule keeps its place.
    """
    xyz = np.asarray(xyz_A, dtype=float)
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise ValueError(f"xyz_A: expected shape (n_atoms, 3), got {xyz.shape}")
    pairs = np.asarray(bonds, dtype=int).reshape(-1, 2)
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= len(xyz)):
        raise ValueError(f"bonds: atom indices must lie in 0..{len(xyz) - 1}")
    if not box_A > 0:
        raise ValueError(f"box_A: expected a positive box edge, got {box_A}")
    neighbours: list[list[int]] = [[] for _ in range(len(xyz))]
    for i, j in pairs:
        neighbours[i].append(j)
        neighbours[j].append(i)
    out = xyz.copy()
    seen = np.zeros(len(xyz), bool)
    for start in range(len(xyz)):
        if seen[start]:
            continue
        seen[start] = True
        stack = [start]
        while stack:
            i = stack.pop()
            for j in neighbours[i]:
                if not seen[j]:
                    d = xyz[j] - out[i]
                    out[j] = out[i] + d - box_A * np.round(d / box_A)
                    seen[j] = True
                    stack.append(j)
    return out


def radius_of_gyration(xyz_A: np.ndarray, masses: np.ndarray) -> float:
    """Mass-weighted radius of gyration of one molecule.

    ``Rg = sqrt(sum_i m_i |r_i - r_cm|^2 / sum_i m_i)``.

    Parameters
    ----------
    xyz_A : (n_atoms, 3) float64, Å
        Unwrapped positions of the molecule's atoms (see :func:`unwrap_bonded`).
    masses : (n_atoms,) float64, g/mol
        Atom masses (any common unit: only their ratios matter).

    Returns
    -------
    float, Å
    """
    xyz = np.asarray(xyz_A, dtype=float)
    m = np.asarray(masses, dtype=float)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or len(xyz) == 0:
        raise ValueError(f"xyz_A: expected shape (n_atoms, 3) with n_atoms >= 1, got {xyz.shape}")
    if m.shape != (len(xyz),):
        raise ValueError(f"masses: expected shape ({len(xyz)},), got {m.shape}")
    if (m < 0).any() or not m.sum() > 0:
        raise ValueError("masses: expected non-negative masses with a positive sum")
    centre = m @ xyz / m.sum()
    return float(np.sqrt(m @ np.einsum("ij,ij->i", xyz - centre, xyz - centre) / m.sum()))


def rotation_matrices(axes: np.ndarray, angles_rad: np.ndarray) -> np.ndarray:
    """Rotations by ``angles_rad`` about ``axes`` (right hand, Rodrigues' formula).

    Parameters
    ----------
    axes : (..., 3) float64
        Rotation axes, any nonzero length.
    angles_rad : (...) float64, rad

    Returns
    -------
    (..., 3, 3) float64
        ``R @ v`` rotates the vector ``v``.
    """
    axes = np.asarray(axes, dtype=float)
    x, y, z = np.moveaxis(axes / np.linalg.norm(axes, axis=-1, keepdims=True), -1, 0)
    angles = np.asarray(angles_rad, dtype=float)
    c, s = np.cos(angles), np.sin(angles)
    v = 1.0 - c
    out = np.empty(np.broadcast_shapes(x.shape, angles.shape) + (3, 3))
    out[..., 0, :] = np.stack([c + x * x * v, x * y * v - z * s, x * z * v + y * s], -1)
    out[..., 1, :] = np.stack([y * x * v + z * s, c + y * y * v, y * z * v - x * s], -1)
    out[..., 2, :] = np.stack([z * x * v - y * s, z * y * v + x * s, c + z * z * v], -1)
    return out


def align_rotations(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotations taking each unit vector ``a`` onto the unit vector ``b``.

    Parameters
    ----------
    a : (n, 3) float64
        Unit vectors to turn.
    b : (3,) float64
        Unit vector they are turned onto.

    Returns
    -------
    (n, 3, 3) float64
        The smallest rotation for each; half a turn about an axis normal to
        ``a`` where ``a`` points opposite to ``b``.
    """
    a = np.asarray(a, dtype=float).reshape(-1, 3)
    b = np.asarray(b, dtype=float)
    axes = np.cross(a, b)
    angles = np.arccos(np.clip(a @ b, -1.0, 1.0))
    parallel = np.linalg.norm(axes, axis=1) < 1e-9
    if parallel.any():  # any axis normal to a serves (no turn, or half a turn)
        normal = np.cross(a[parallel], [1.0, 0.0, 0.0])
        weak = np.linalg.norm(normal, axis=1) < 1e-6
        normal[weak] = np.cross(a[parallel][weak], [0.0, 1.0, 0.0])
        axes[parallel] = normal
    return rotation_matrices(axes, angles)


def twist(xyz_A: np.ndarray, rotors: Sequence[tuple[int, int, np.ndarray]],
          angles_rad: np.ndarray) -> np.ndarray:
    """Turn the far side of each rotor bond about the bond, one rotor after the other.

    Parameters
    ----------
    xyz_A : (..., n_atoms, 3) float64, Å
        One conformer or a stack of them.
    rotors : list of (j, k, moved)
        Bond j-k and the atoms on k's side, which turn; later rotors may lie
        on an earlier rotor's far side.
    angles_rad : (..., n_rotors) float64, rad
        Torsion change of each rotor.

    Returns
    -------
    (..., n_atoms, 3) float64, Å
        A copy; bond lengths and bond angles are unchanged.
    """
    out = np.array(xyz_A, dtype=float)
    angles = np.asarray(angles_rad, dtype=float)
    for r, (j, k, moved) in enumerate(rotors):
        pivot = out[..., k:k + 1, :]
        rotation = rotation_matrices(out[..., k, :] - out[..., j, :], angles[..., r])
        out[..., moved, :] = np.einsum("...ij,...nj->...ni", rotation,
                                       out[..., moved, :] - pivot) + pivot
    return out
