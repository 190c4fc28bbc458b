"""Intensive features of the infinite chain a repeat unit describes.

A repeat unit stands for an infinite chain, so its features should not depend
on where the chain was cut nor on how many periods the unit spells out:
``*CCO*``, ``*OCC*`` and ``*CCOCCO*`` are one polymer. Here every feature is
read off the middle unit of a five-unit oligomer (with radius-2 environments
the middle unit then sees its real neighbours across both junctions) and
divided by the unit's size. Features are therefore *intensive*: a short unit
the generator proposes (``*CCOCO*``) has features in the same range as the
long HTP-MD units, which is what lets a model rank short units at all.

Two blocks:

- the periodic Morgan count fingerprint per heavy atom (environment
  frequencies of the chain; Rogers & Hahn, J. Chem. Inf. Model. 50, 742
  (2010), DOI 10.1021/ci100050t, taken periodically as in polyBERT-style
  polymer fingerprints: Kuenneth & Ramprasad, Nat. Commun. 14, 4099 (2023),
  DOI 10.1038/s41467-023-39868-6);
- :data:`PHYSICS_NAMES`, composition and chain physics that govern Li+
  transport in polymer hosts: density of coordinating heteroatoms along the
  backbone and their spacing (ethylene-oxide-like ``O-C-C-O`` spacing chelates
  Li+; Bruce & Vincent, J. Chem. Soc. Faraday Trans. 89, 3187 (1993), DOI
  10.1039/FT9938903187), chain flexibility (rotatable backbone bonds, rings,
  H-bond donors that raise Tg; Ratner & Shriver, Chem. Rev. 88, 109 (1988),
  DOI 10.1021/cr00083a006) and polarity.
"""

from __future__ import annotations

import functools

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator, rdMolDescriptors

from polyhpc.chem.polymerize import repeat_unit
from polyhpc.chem.smiles import end_atoms

#: Copies of the unit in the oligomer the features are read from (middle one used).
COPIES = 5

PHYSICS_NAMES = (
    "backbone_O_frac",            # O atoms on the backbone per backbone atom (the baseline)
    "backbone_hetero_frac",       # O, N, S on the backbone per backbone atom
    "eo_spacing_per_backbone",    # backbone heteroatom pairs two atoms apart (O-C-C-O)
    "ether_O_per_heavy",          # C-O-C oxygens not bonded to a carbonyl carbon
    "ester_O_per_heavy",          # single-bonded O on a carbonyl carbon
    "carbonyl_O_per_heavy",       # C=O and S=O, P=O oxygens
    "N_per_heavy",
    "NH_per_heavy",               # H-bond donors on N (amides, urethanes, amines)
    "OH_per_heavy",
    "F_per_heavy",
    "S_per_heavy",
    "P_per_heavy",
    "backbone_frac",              # backbone atoms per heavy atom (1 = no side groups)
    "rotatable_backbone_frac",    # backbone bonds free to rotate (chain flexibility)
    "ring_backbone_frac",         # backbone atoms in rings
    "aromatic_frac",
    "sp2_frac",                   # atoms with a double or aromatic bond
    "tpsa_per_heavy",             # polar surface area (Å²) per heavy atom
    "logp_per_heavy",             # Crippen logP contribution per heavy atom
    "mass_per_backbone",          # g/mol of the unit per backbone atom
)


@functools.lru_cache(maxsize=4)
def _morgan(radius: int, n_bits: int):
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


class PeriodicUnit:
    """The middle unit of a :data:`COPIES`-unit oligomer of a validated unit.

    Attributes
    ----------
    mol : rdkit.Chem.Mol
        The oligomer (dummy ends kept, sanitized).
    atoms : list of int
        Indices of the middle unit's atoms in ``mol``.
    backbone : list of int
        Indices of the middle unit's backbone atoms in chain order; the
        bond from the last to the next unit's first closes the period.
    next_head : int
        Index of the first backbone atom of the following unit.
    """

    def __init__(self, unit: Chem.Mol):
        end1, _, end2, _ = end_atoms(unit)
        body = [a.GetIdx() for a in unit.GetAtoms() if a.GetIdx() not in (end1, end2)]
        position = {old: new for new, old in enumerate(body)}
        path = list(Chem.GetShortestPath(unit, end1, end2))[1:-1]
        n = len(body)
        middle = (COPIES // 2) * n
        self.mol = repeat_unit(unit, COPIES)
        self.atoms = list(range(middle, middle + n))
        self.backbone = [middle + position[i] for i in path]
        self.next_head = middle + n + position[path[0]]

    @property
    def n_heavy(self) -> int:
        """Heavy atoms per unit."""
        return len(self.atoms)

    def backbone_bonds(self) -> list[Chem.Bond]:
        """The backbone bonds of one period (as many as backbone atoms)."""
        chain = [*self.backbone, self.next_head]
        return [self.mol.GetBondBetweenAtoms(i, j) for i, j in zip(chain[:-1], chain[1:],
                                                                   strict=True)]


def periodic_fingerprint(cell: PeriodicUnit, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Morgan environment counts of one period divided by its heavy atoms.

    Returns
    -------
    (n_bits,) float64
        Environment frequency per heavy atom; identical for every spelling of
        one polymer (translated, mirrored, repeated).
    """
    counts = _morgan(radius, n_bits).GetCountFingerprintAsNumPy(cell.mol, fromAtoms=cell.atoms)
    return counts.astype(np.float64) / cell.n_heavy


def _is_carbonyl_like(atom: Chem.Atom) -> bool:
    """C, S or P with a double bond to O (carbonyl, sulfonyl, phosphoryl)."""
    return any(b.GetBondType() == Chem.BondType.DOUBLE and b.GetOtherAtom(atom).GetSymbol() == "O"
               for b in atom.GetBonds())


def _hetero_gaps(symbols: list[str]) -> list[int]:
    """Backbone atoms strictly between consecutive O/N/S atoms around the period."""
    where = [i for i, s in enumerate(symbols) if s in ("O", "N", "S")]
    n = len(symbols)
    return [(where[(k + 1) % len(where)] - w - 1) % n if len(where) > 1 else n - 1
            for k, w in enumerate(where)]


def physics_descriptors(cell: PeriodicUnit) -> np.ndarray:
    """The :data:`PHYSICS_NAMES` descriptors of one period.

    Returns
    -------
    (len(PHYSICS_NAMES),) float64
        Per backbone atom or per heavy atom as named; ``tpsa_per_heavy`` in
        Å², ``mass_per_backbone`` in g/mol.
    """
    mol, atoms = cell.mol, [cell.mol.GetAtomWithIdx(i) for i in cell.atoms]
    n_heavy, n_backbone = cell.n_heavy, len(cell.backbone)
    backbone_symbols = [mol.GetAtomWithIdx(i).GetSymbol() for i in cell.backbone]
    symbols = [a.GetSymbol() for a in atoms]
    ether = ester = carbonyl = nh = oh = 0
    for atom in atoms:
        if atom.GetSymbol() == "N" and atom.GetTotalNumHs() > 0:
            nh += 1
        if atom.GetSymbol() != "O":
            continue
        neighbours = atom.GetNeighbors()
        if any(b.GetBondType() == Chem.BondType.DOUBLE for b in atom.GetBonds()):
            carbonyl += 1
        elif atom.GetTotalNumHs() > 0:
            oh += 1
        elif any(_is_carbonyl_like(n) for n in neighbours):
            ester += 1
        else:
            ether += 1
    rotatable = 0
    for bond in cell.backbone_bonds():
        a, b = bond.GetBeginAtom(), bond.GetEndAtom()
        conjugated = any(_is_carbonyl_like(x) and y.GetSymbol() in ("N", "O")
                         for x, y in ((a, b), (b, a)))
        if bond.GetBondType() == Chem.BondType.SINGLE and not bond.IsInRing() \
                and not conjugated:
            rotatable += 1
    tpsa = rdMolDescriptors._CalcTPSAContribs(mol)
    crippen = rdMolDescriptors._CalcCrippenContribs(mol)
    ring_info = mol.GetRingInfo()
    mass = sum(a.GetMass() + a.GetTotalNumHs() * 1.008 for a in atoms)
    return np.array([
        backbone_symbols.count("O") / n_backbone,
        sum(s in ("O", "N", "S") for s in backbone_symbols) / n_backbone,
        sum(g == 2 for g in _hetero_gaps(backbone_symbols)) / n_backbone,
        ether / n_heavy, ester / n_heavy, carbonyl / n_heavy,
        symbols.count("N") / n_heavy, nh / n_heavy, oh / n_heavy,
        symbols.count("F") / n_heavy, symbols.count("S") / n_heavy, symbols.count("P") / n_heavy,
        n_backbone / n_heavy,
        rotatable / n_backbone,
        sum(ring_info.NumAtomRings(i) > 0 for i in cell.backbone) / n_backbone,
        sum(a.GetIsAromatic() for a in atoms) / n_heavy,
        sum(a.GetIsAromatic() or any(b.GetBondType() == Chem.BondType.DOUBLE
                                     for b in a.GetBonds()) for a in atoms) / n_heavy,
        sum(tpsa[i] for i in cell.atoms) / n_heavy,
        sum(crippen[i][0] for i in cell.atoms) / n_heavy,
        mass / n_backbone,
    ], dtype=np.float64)
