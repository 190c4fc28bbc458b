"""Placing molecules in a periodic box: grown polymer chains and randomly inserted ions.

Chains are grown, not embedded: one repeat unit is embedded once with RDKit
(ETKDG, the more extended half of ten conformers) and copies of it are
joined head to tail, each copy a random one of those conformers with a
random rotation about the junction bond. A placement is rejected when an
atom comes closer than ``min_distance_A`` to any atom more than three bonds
away, or two heavy atoms closer than ``min_heavy_distance_A`` (minimum
image, all chains); a blocked chain backtracks a few units. A 1,000-atom
chain takes well under a second; the equilibration's minimization fixes the
junction geometry. Ions go in at random positions and orientations with the
same overlap rule, the algorithm of LAMMPS ``fix deposit ... near``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from polyhpc.chem.polymerize import repeat_unit
from polyhpc.chem.smiles import parse_repeat_unit
from polyhpc.errors import PolyhpcError
from polyhpc.md.datafile import Molecule
from polyhpc.md.settings import BuildSettings


class BuildError(PolyhpcError):
    """A system could not be built (packing failed, or the unit cannot be parameterized)."""


@dataclass
class _Template:
    """One embedded, methyl-capped repeat unit and how it joins its neighbours."""

    conformers: list[np.ndarray]
    head: int
    tail: int
    cap1: int
    cap2: int
    junctions: list[float]
    from_head: np.ndarray  # bonds from the head atom, per template atom
    from_tail: np.ndarray
    span: int  # bonds from head to tail
    cap1_atoms: np.ndarray  # cap 1 and its hydrogens
    cap2_atoms: np.ndarray
    heavy: np.ndarray  # non-hydrogen mask


def _graph_distances(mol: Chem.Mol, source: int) -> np.ndarray:
    return np.asarray(Chem.GetDistanceMatrix(mol)[source], dtype=int)


def unit_template(smiles: str, seed: int, conformers: int = 10) -> tuple[_Template, Chem.Mol]:
    """Embed the methyl-capped unit; keep the more extended half of the conformers."""
    unit = parse_repeat_unit(smiles)
    body = len([a for a in unit.GetAtoms() if a.GetAtomicNum() != 0])
    monomer = Chem.AddHs(repeat_unit(unit, 1, caps="C"))
    cap1, cap2 = body, body + 1
    head = next(n.GetIdx() for n in monomer.GetAtomWithIdx(cap1).GetNeighbors())
    tail = next(n.GetIdx() for n in monomer.GetAtomWithIdx(cap2).GetNeighbors())
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed) % 2**31
    ids = list(AllChem.EmbedMultipleConfs(monomer, conformers, params))
    if not ids:
        raise BuildError(f"RDKit could not embed the repeat unit {smiles} in 3D")
    def cap_distance(conformer: int) -> float:
        xyz = monomer.GetConformer(conformer).GetPositions()
        return float(np.linalg.norm(xyz[cap1] - xyz[cap2]))

    ids = sorted(ids, key=cap_distance, reverse=True)[:max(1, (len(ids) + 1) // 2)]
    xyzs = [monomer.GetConformer(c).GetPositions() for c in ids]
    head_is_carbon = monomer.GetAtomWithIdx(head).GetAtomicNum() == 6
    junctions = [float(np.linalg.norm(x[tail] - x[cap2]) if head_is_carbon
                       else np.linalg.norm(x[head] - x[cap1])) for x in xyzs]
    from_head = _graph_distances(monomer, head)

    def with_hydrogens(cap):
        return np.array([cap] + [x.GetIdx() for x in monomer.GetAtomWithIdx(cap).GetNeighbors()
                                 if x.GetAtomicNum() == 1])
    return _Template(xyzs, head, tail, cap1, cap2, junctions, from_head,
                     _graph_distances(monomer, tail), int(from_head[tail]),
                     with_hydrogens(cap1), with_hydrogens(cap2),
                     np.array([a.GetAtomicNum() > 1 for a in monomer.GetAtoms()])), monomer


def chain_to_template(chain: Chem.Mol, monomer: Chem.Mol, body: int,
                       degree: int) -> tuple[np.ndarray, np.ndarray]:
    """For every chain atom: (unit copy, template atom)."""
    n = chain.GetNumAtoms()
    copy = np.full(n, -1)
    source = np.full(n, -1)
    heavy = degree * body
    for k in range(degree):
        copy[k * body:(k + 1) * body] = k
        source[k * body:(k + 1) * body] = np.arange(body)
    copy[heavy], source[heavy] = 0, body
    copy[heavy + 1], source[heavy + 1] = degree - 1, body + 1

    def hydrogens(mol, idx):
        return sorted(x.GetIdx() for x in mol.GetAtomWithIdx(int(idx)).GetNeighbors()
                      if x.GetAtomicNum() == 1)

    for atom in range(heavy + 2):
        for h_chain, h_unit in zip(hydrogens(chain, atom), hydrogens(monomer, source[atom]),
                                   strict=True):
            copy[h_chain], source[h_chain] = copy[atom], h_unit
    return copy, source


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation matrix taking unit vector a onto unit vector b."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if np.linalg.norm(v) < 1e-9:
        if c > 0:
            return np.eye(3)
        axis = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(axis) < 1e-6:
            axis = np.cross(a, [0.0, 1.0, 0.0])
        return Rotation.from_rotvec(np.pi * axis / np.linalg.norm(axis)).as_matrix()
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def _too_close(new: np.ndarray, old: np.ndarray, box: float, threshold: float,
               excluded: np.ndarray | None = None) -> np.ndarray:
    """Pairs (new, old) closer than ``threshold`` (minimum image), excluded pairs left out."""
    d = new[:, None, :] - old[None, :, :]
    d -= box * np.round(d / box)
    close = np.einsum("ijk,ijk->ij", d, d) < threshold * threshold
    if excluded is not None:
        close &= ~excluded
    return close


class Occupancy:
    """Atoms already in the periodic box, for overlap checks against new ones."""

    def __init__(self, box: float, settings: BuildSettings):
        self.box = box
        self.any_d = settings.min_distance_A
        self.heavy_d = settings.min_heavy_distance_A
        self.xyz: list[np.ndarray] = [np.empty((0, 3))]
        self.heavy: list[np.ndarray] = [np.empty(0, bool)]
        self._trees = None

    def add(self, xyz: np.ndarray, heavy: np.ndarray) -> None:
        """Occupy the box with more atoms."""
        self.xyz.append(np.asarray(xyz))
        self.heavy.append(np.asarray(heavy, bool))
        self._trees = None

    def clashes(self, xyz: np.ndarray, heavy: np.ndarray) -> bool:
        """Whether any new atom comes too close to an occupied one."""
        if self._trees is None:
            allxyz = np.mod(np.concatenate(self.xyz), self.box)
            mask = np.concatenate(self.heavy)
            self._trees = [cKDTree(allxyz, boxsize=self.box) if len(allxyz) else None,
                           cKDTree(allxyz[mask], boxsize=self.box) if mask.any() else None]
        wrapped = np.mod(xyz, self.box)
        every, heavy_tree = self._trees
        if every is not None and any(every.query_ball_point(wrapped, self.any_d,
                                                            return_length=True)):
            return True
        return heavy_tree is not None and heavy.any() and any(
            heavy_tree.query_ball_point(wrapped[heavy], self.heavy_d, return_length=True))


def grow_chain(template: _Template, degree: int, box: float, others: Occupancy,
               rng: np.random.Generator, settings: BuildSettings) -> dict[int, np.ndarray]:
    """Place ``degree`` copies of the template head to tail; return per-copy template coords.

    Copy k holds every template atom except the caps that its neighbours
    replace (copy 0 keeps cap 1, the last copy keeps cap 2).
    """
    t = template
    placed: list[np.ndarray] = []
    kept: list[np.ndarray] = []
    failures = 0
    while len(placed) < degree:
        k = len(placed)
        keep = np.ones(len(t.from_head), bool)
        if k > 0:
            keep[t.cap1_atoms] = False
        if k < degree - 1:
            keep[t.cap2_atoms] = False
        atoms = np.flatnonzero(keep)
        heavy = t.heavy[atoms]
        if placed:  # own earlier atoms, and how many bonds each is from the new head
            own = np.concatenate([p[m] for p, m in zip(placed, kept, strict=True)])
            apart = np.concatenate([t.from_tail[m] + 1 + (k - j - 1) * (t.span + 1)
                                    for j, m in enumerate(kept)])
            own_heavy = np.concatenate([t.heavy[m] for m in kept])
            excluded = (t.from_head[atoms][:, None] + apart[None, :]) <= 3
            excluded_heavy = excluded[heavy][:, own_heavy]
        for _ in range(settings.attempts_per_unit):
            choice = int(rng.integers(len(t.conformers)))
            conformer = t.conformers[choice]
            if k == 0:
                rotation = Rotation.random(random_state=rng).as_matrix()
                xyz = conformer @ rotation.T
                xyz += rng.uniform(0, box, 3) - xyz[t.head]
            else:
                previous = placed[-1]
                bond = previous[t.cap2] - previous[t.tail]
                bond /= np.linalg.norm(bond)
                along = conformer[t.head] - conformer[t.cap1]
                rotation = _align(along / np.linalg.norm(along), bond)
                spin = Rotation.from_rotvec(rng.uniform(0, 2 * np.pi) * bond).as_matrix()
                xyz = conformer @ (spin @ rotation).T
                xyz += previous[t.tail] + t.junctions[choice] * bond - xyz[t.head]
            new = xyz[atoms]
            if placed and (
                    _too_close(new, own, box, settings.min_distance_A, excluded).any()
                    or _too_close(new[heavy], own[own_heavy], box, settings.min_heavy_distance_A,
                                  excluded_heavy).any()):
                continue
            if others.clashes(new, heavy):
                continue
            placed.append(xyz)
            kept.append(atoms)
            break
        else:
            failures += 1
            if failures > 20 * degree:
                raise BuildError(
                    f"could not grow a chain of {degree} units without overlaps in a "
                    f"{box:.1f} A box; lower density_g_cm3 or min_distance_A")
            back = min(len(placed), int(rng.integers(1, 4)))
            del placed[len(placed) - back:]
            del kept[len(kept) - back:]
    return dict(enumerate(placed))


def insert_molecules(molecule: Molecule, count: int, occupancy: Occupancy, rng: np.random.Generator,
            attempts: int = 1000) -> list[Molecule]:
    """Random positions and orientations, rejecting overlaps (like ``fix deposit ... near``)."""
    placed = []
    heavy = np.array([not label.startswith("h") for label in molecule.labels])
    for _ in range(count):
        for _ in range(attempts):
            rotation = Rotation.random(random_state=rng).as_matrix()
            xyz = molecule.xyz @ rotation.T + rng.uniform(0, occupancy.box, 3)
            if not occupancy.clashes(xyz, heavy):
                placed.append(molecule.placed(xyz))
                occupancy.add(xyz, heavy)
                break
        else:
            raise BuildError(f"could not insert {molecule.name} after {attempts} attempts "
                             f"({len(placed)} of {count} placed); lower density_g_cm3")
    return placed
