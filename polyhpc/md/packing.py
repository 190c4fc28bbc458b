"""Placing molecules in a periodic box: grown polymer chains and randomly inserted ions.

Chains are grown, not embedded: one repeat unit is embedded once with RDKit
(ETKDG, ten conformers) and copies of it are joined head to tail, each copy
a random one of those conformers. Every rotatable bond on the unit's
backbone (single, outside rings, not conjugated: :func:`backbone_rotors`)
and every junction between copies gets a uniform random torsion, so a chain
starts as a freely rotating chain; amide, ester and ring bonds inside a unit
keep the conformer's geometry. A placement is rejected when an atom comes
closer than ``min_distance_A`` to any atom more than three bonds away, or
two heavy atoms closer than ``min_heavy_distance_A`` (minimum image, all
chains and the copy itself); a blocked chain backtracks a few units. A
1,000-atom chain takes about a second; the equilibration's minimization
fixes the junction geometry. Ions go in at random positions and
orientations with the same overlap rule, the algorithm of LAMMPS
``fix deposit ... near``.

Why freely rotating: the chains of the HTP-MD reference PEO data file
(``system.lmp`` of the published example, 15 chains of DP 51) have
near-uniform backbone torsions and a mass-weighted radius of gyration of
12.2 +- 3.4 A. polyhpc first kept the more extended half of the conformers,
which made trans torsions dominate inside each unit: 16.7 +- 3.5 A (150
chains, 10 seeds); freely rotating gives 13.4 +- 2.9 A. The rule needs no
target value, so any unit and chain length follows from its own bond
lengths, angles and rigid groups (a freely rotating chain's mean square size
grows with the backbone length; Flory, *Statistical Mechanics of Chain
Molecules*, 1969). What remains: the reference's chains are ideal at long
range (mean square internal distance proportional to separation), polyhpc's
avoid themselves at every range and so come out slightly larger, by more
for longer chains.
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
from polyhpc.md.geometry import align_rotations, rotation_matrices, twist
from polyhpc.md.settings import BuildSettings


class BuildError(PolyhpcError):
    """A system could not be built (packing failed, or the unit cannot be parameterized)."""


@dataclass
class _Template:
    """One embedded, methyl-capped repeat unit and how it joins its neighbours."""

    conformers: np.ndarray  # (n_conformers, n_atoms, 3), Å
    head: int
    tail: int
    cap1: int
    cap2: int
    junctions: np.ndarray  # (n_conformers,) junction bond length, Å
    from_head: np.ndarray  # bonds from the head atom, per template atom
    from_tail: np.ndarray
    span: int  # bonds from head to tail
    cap1_atoms: np.ndarray  # cap 1 and its hydrogens
    cap2_atoms: np.ndarray
    heavy: np.ndarray  # non-hydrogen mask
    rotors: list[tuple[int, int, np.ndarray]]  # backbone bond j-k, atoms on k's side
    far: np.ndarray  # (n, n) bool: more than three bonds apart
    longest_bond: float  # Å, over all conformers


def _graph_distances(mol: Chem.Mol, source: int) -> np.ndarray:
    return np.asarray(Chem.GetDistanceMatrix(mol)[source], dtype=int)


def _far_side(mol: Chem.Mol, j: int, k: int) -> np.ndarray:
    """Atoms reached from k without crossing the bond j-k (a bond outside rings)."""
    side, stack = {k}, [k]
    while stack:
        for n in mol.GetAtomWithIdx(stack.pop()).GetNeighbors():
            if n.GetIdx() != j and n.GetIdx() not in side:
                side.add(n.GetIdx())
                stack.append(n.GetIdx())
    return np.array(sorted(side))


def backbone_rotors(mol: Chem.Mol, head: int, tail: int) -> list[tuple[int, int, np.ndarray]]:
    """Rotatable bonds on the head-to-tail path and the atoms a torsion about each moves.

    A bond rotates freely when it is single, outside rings and not
    conjugated: amide, ester and aryl bonds keep their embedded geometry.

    Returns
    -------
    list of (j, k, moved)
        Bond atoms in head-to-tail order and the atoms on k's side (tail side).
    """
    path = Chem.GetShortestPath(mol, head, tail) if head != tail else (head,)
    rotors = []
    for j, k in zip(path[:-1], path[1:], strict=True):
        bond = mol.GetBondBetweenAtoms(j, k)
        if (bond.GetBondType() == Chem.BondType.SINGLE and not bond.IsInRing()
                and not bond.GetIsConjugated()):
            rotors.append((j, k, _far_side(mol, j, k)))
    return rotors


def unit_template(smiles: str, seed: int, conformers: int = 10) -> tuple[_Template, Chem.Mol]:
    """Embed the methyl-capped unit (all conformers kept) and find its backbone rotors."""
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
    xyzs = np.array([monomer.GetConformer(c).GetPositions() for c in ids])
    head_is_carbon = monomer.GetAtomWithIdx(head).GetAtomicNum() == 6
    junctions = np.linalg.norm(xyzs[:, tail] - xyzs[:, cap2] if head_is_carbon
                               else xyzs[:, head] - xyzs[:, cap1], axis=1)
    from_head = _graph_distances(monomer, head)

    def with_hydrogens(cap):
        return np.array([cap] + [x.GetIdx() for x in monomer.GetAtomWithIdx(cap).GetNeighbors()
                                 if x.GetAtomicNum() == 1])
    return _Template(xyzs, head, tail, cap1, cap2, junctions, from_head,
                     _graph_distances(monomer, tail), int(from_head[tail]),
                     with_hydrogens(cap1), with_hydrogens(cap2),
                     np.array([a.GetAtomicNum() > 1 for a in monomer.GetAtoms()]),
                     backbone_rotors(monomer, head, tail),
                     np.asarray(Chem.GetDistanceMatrix(monomer)) > 3,
                     float(max(np.linalg.norm(xyzs[:, b.GetBeginAtomIdx()]
                                              - xyzs[:, b.GetEndAtomIdx()], axis=1).max()
                               for b in monomer.GetBonds()))), monomer


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


def _pair_limits(a_heavy: np.ndarray, b_heavy: np.ndarray, allowed: np.ndarray,
                 settings: BuildSettings) -> np.ndarray:
    """Squared closest approach of each (a, b) atom pair; 0 where a pair may touch."""
    heavy_d = max(settings.min_heavy_distance_A, settings.min_distance_A)
    limit = np.where(a_heavy[:, None] & b_heavy[None, :], heavy_d, settings.min_distance_A)
    return np.where(allowed, 0.0, limit * limit)


def _any_closer(new: np.ndarray, old: np.ndarray, limits2: np.ndarray, box: float) -> np.ndarray:
    """Per trial: whether a pair of (new, old) atoms comes closer than its limit (minimum image).

    ``new`` is (n_trials, n_new, 3), ``old`` (n_old, 3), ``limits2`` (n_new, n_old).
    """
    d = new[:, :, None, :] - old[None, None, :, :]
    d -= box * np.round(d / box)
    return (np.einsum("tijk,tijk->tij", d, d) < limits2).any(axis=(1, 2))


def _folded(new: np.ndarray, limits2: np.ndarray) -> np.ndarray:
    """Per trial: whether two atoms of the copy itself come closer than their limit."""
    d = new[:, :, None, :] - new[:, None, :, :]
    return (np.einsum("tijk,tijk->tij", d, d) < limits2).any(axis=(1, 2))


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


#: Trial placements of one unit drawn and checked together; the first that fits is taken.
TRIAL_BATCH = 8


def _trials(t: _Template, k: int, previous: np.ndarray | None, box: float,
            rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` random placements of copy ``k``: (count, n_atoms, 3), Å.

    Each is a random conformer with random backbone torsions; copy 0 gets a
    random orientation and position, a later copy continues the previous
    one along its tail bond with a random turn about that bond.
    """
    choice = rng.integers(len(t.conformers), size=count)
    xyz = t.conformers[choice]
    if t.rotors:
        xyz = twist(xyz, t.rotors, rng.uniform(0, 2 * np.pi, (count, len(t.rotors))))
    if k == 0:
        rotation = Rotation.random(count, random_state=rng).as_matrix()
        xyz = np.einsum("tij,tnj->tni", rotation, xyz)
        return xyz + (rng.uniform(0, box, (count, 3)) - xyz[:, t.head])[:, None, :]
    bond = previous[t.cap2] - previous[t.tail]
    bond /= np.linalg.norm(bond)
    along = xyz[:, t.head] - xyz[:, t.cap1]
    rotation = rotation_matrices(np.broadcast_to(bond, (count, 3)),
                                 rng.uniform(0, 2 * np.pi, count)) @ align_rotations(
        along / np.linalg.norm(along, axis=1, keepdims=True), bond)
    xyz = np.einsum("tij,tnj->tni", rotation, xyz)
    end = previous[t.tail] + t.junctions[choice][:, None] * bond
    return xyz + (end - xyz[:, t.head])[:, None, :]


def grow_chain(template: _Template, degree: int, box: float, others: Occupancy,
               rng: np.random.Generator, settings: BuildSettings) -> dict[int, np.ndarray]:
    """Place ``degree`` copies of the template head to tail; return per-copy template coords.

    Copy k holds every template atom except the caps that its neighbours
    replace (copy 0 keeps cap 1, the last copy keeps cap 2). Each copy tries
    up to ``settings.attempts_per_unit`` placements (:func:`_trials`, in
    batches of :data:`TRIAL_BATCH`) and takes the first without overlaps.
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
        # pairs within the copy more than three bonds apart must not overlap
        own_limits2 = np.triu(_pair_limits(heavy, heavy, ~t.far[np.ix_(atoms, atoms)],
                                           settings), 1)
        if placed:  # own earlier atoms, and how many bonds each is from the new head
            own = np.concatenate([p[m] for p, m in zip(placed, kept, strict=True)])
            apart = np.concatenate([t.from_tail[m] + 1 + (k - j - 1) * (t.span + 1)
                                    for j, m in enumerate(kept)])
            own_heavy = np.concatenate([t.heavy[m] for m in kept])
            # no new atom gets farther from the previous tail than its bonds reach
            reach = ((t.from_head[atoms].max() + 1) * t.longest_bond
                     + max(settings.min_heavy_distance_A, settings.min_distance_A))
            d = own - placed[-1][t.tail]
            d -= box * np.round(d / box)
            near = np.einsum("ij,ij->i", d, d) < reach * reach
            own, apart, own_heavy = own[near], apart[near], own_heavy[near]
            chain_limits2 = _pair_limits(
                heavy, own_heavy, (t.from_head[atoms][:, None] + apart[None, :]) <= 3, settings)
        found = None
        for first in range(0, settings.attempts_per_unit, TRIAL_BATCH):
            count = min(TRIAL_BATCH, settings.attempts_per_unit - first)
            xyz = _trials(t, k, placed[-1] if placed else None, box, rng, count)
            new = xyz[:, atoms]
            fits = ~_folded(new, own_limits2) if t.rotors else np.ones(count, bool)
            if placed:
                fits[fits] = ~_any_closer(new[fits], own, chain_limits2, box)
            found = next((i for i in np.flatnonzero(fits)
                          if not others.clashes(new[i], heavy)), None)
            if found is not None:
                break
        if found is not None:
            placed.append(xyz[found])
            kept.append(atoms)
            continue
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
