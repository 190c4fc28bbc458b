"""Building polymer chains from a repeat unit.

The HTP-MD protocol polymerizes each repeat unit until the backbone holds
more than 150 heavy atoms and caps both chain ends with methyl groups
(Khajeh et al. 2025, section 3.4, "at least 150"; Xie et al., arXiv:2101.05339).
The HTP-MD data is strict: the degree of polymerization of every parsable
``poly_smiles`` in ``htpmd-properties.csv`` is ``150 // backbone_per_unit + 1``
(PEO: DP 51, 153 backbone atoms), which :func:`degree_of_polymerization` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem
from rdkit.Chem import Descriptors, rdMolDescriptors

from polyhpc.chem.smiles import end_atoms, parse_repeat_unit
from polyhpc.errors import InvalidSmilesError


@dataclass(frozen=True)
class Chain:
    """A capped polymer chain built from one repeat unit.

    Attributes
    ----------
    unit_smiles : str
        The repeat unit it was built from.
    mol : rdkit.Chem.Mol
        The chain with implicit hydrogens, both ends methyl-capped.
    degree_of_polymerization : int
        Number of repeat units.
    backbone_atoms : int
        Heavy atoms on the shortest end-to-end path, summed over units (caps
        not counted).
    formula : str
        Hill formula of the capped chain.
    molar_mass_g_per_mol : float
        Average molar mass of the capped chain.
    """

    unit_smiles: str
    mol: Chem.Mol
    degree_of_polymerization: int
    backbone_atoms: int
    formula: str
    molar_mass_g_per_mol: float

    @property
    def smiles(self) -> str:
        """Canonical SMILES of the capped chain."""
        return Chem.MolToSmiles(self.mol)

    def to_dict(self) -> dict:
        """Plain-data form for JSON output."""
        return {
            "unit_smiles": self.unit_smiles,
            "degree_of_polymerization": self.degree_of_polymerization,
            "backbone_atoms": self.backbone_atoms,
            "formula": self.formula,
            "molar_mass_g_per_mol": self.molar_mass_g_per_mol,
            "heavy_atoms": self.mol.GetNumHeavyAtoms(),
            "smiles": self.smiles,
        }


def backbone_length(unit: Chem.Mol) -> int:
    """Heavy atoms on the shortest path between the two ends of one unit."""
    end1, _, end2, _ = end_atoms(unit)
    return len(Chem.GetShortestPath(unit, end1, end2)) - 2


def repeat_unit(unit: Chem.Mol, copies: int, caps: str | None = None) -> Chem.Mol:
    """Join ``copies`` units head to tail.

    Parameters
    ----------
    unit : rdkit.Chem.Mol
        Validated repeat unit with two dummy end atoms.
    copies : int
        Number of units, at least 1.
    caps : {None, "C"}
        ``None`` keeps dummy ends (the result is again a repeat unit);
        ``"C"`` caps both ends with methyl groups.

    Returns
    -------
    rdkit.Chem.Mol
        Sanitized molecule.
    """
    if copies < 1:
        raise ValueError(f"copies must be >= 1, got {copies}")
    end1, head, end2, tail = end_atoms(unit)
    kekule = Chem.RWMol(unit)
    Chem.Kekulize(kekule, clearAromaticFlags=True)
    body = [a.GetIdx() for a in kekule.GetAtoms() if a.GetIdx() not in (end1, end2)]
    chain = Chem.RWMol()
    previous_tail = None
    first_head = None
    for _ in range(copies):
        index = {old: chain.AddAtom(Chem.Atom(kekule.GetAtomWithIdx(old))) for old in body}
        for bond in kekule.GetBonds():
            i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
            if i in index and j in index:
                chain.AddBond(index[i], index[j], bond.GetBondType())
        if previous_tail is None:
            first_head = index[head]
        else:
            chain.AddBond(previous_tail, index[head], Chem.BondType.SINGLE)
        previous_tail = index[tail]
    cap_atomic_number = 0 if caps is None else Chem.Atom(caps).GetAtomicNum()
    for anchor in (first_head, previous_tail):
        cap = chain.AddAtom(Chem.Atom(cap_atomic_number))
        chain.AddBond(anchor, cap, Chem.BondType.SINGLE)
    mol = chain.GetMol()
    Chem.SanitizeMol(mol)
    return mol


def degree_of_polymerization(per_unit: int, backbone_atoms_above: int = 150) -> int:
    """Fewest units whose backbone holds more than ``backbone_atoms_above`` atoms (HTP-MD)."""
    if per_unit < 1:
        raise ValueError(f"a unit has at least one backbone atom, got {per_unit}")
    return backbone_atoms_above // per_unit + 1


def polymerize(smiles: str, backbone_atoms_above: int = 150) -> Chain:
    """Polymerize a repeat unit to the HTP-MD chain: the backbone strictly longer than a bound.

    Parameters
    ----------
    smiles : str
        Repeat unit with two end markers.
    backbone_atoms_above : int
        The chain's backbone (heavy atoms on the end-to-end path, summed over units)
        holds more than this many atoms; HTP-MD uses 150.

    Returns
    -------
    Chain
        Methyl-capped chain of degree ``backbone_atoms_above // per_unit + 1``.
    """
    if backbone_atoms_above < 0:
        raise InvalidSmilesError(f"backbone_atoms_above must be >= 0, got {backbone_atoms_above}")
    unit = parse_repeat_unit(smiles)
    per_unit = backbone_length(unit)
    degree = degree_of_polymerization(per_unit, backbone_atoms_above)
    mol = repeat_unit(unit, degree, caps="C")
    return Chain(
        unit_smiles=Chem.MolToSmiles(unit),
        mol=mol,
        degree_of_polymerization=degree,
        backbone_atoms=degree * per_unit,
        formula=rdMolDescriptors.CalcMolFormula(mol),
        molar_mass_g_per_mol=Descriptors.MolWt(mol),
    )
