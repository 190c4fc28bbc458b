"""Parsing and validation of polymer repeat units.

A repeat unit is a SMILES string with exactly two end markers ``*``, each
bonded by a single bond to one atom of the unit, and all of it one molecule:
``*OCC*`` is poly(ethylene oxide), while ``*CC.O*`` (two molecules) is no chain.
The HTP-MD files write the ends as ``[Au]`` and ``[Cu]``;
:func:`normalize_end_markers` turns every accepted spelling into ``*``.

Units are limited in size, so that every command answers in seconds: at most
:data:`MAX_HEAVY_ATOMS` heavy atoms (end markers and hydrogens not counted),
four times the largest unit of the HTP-MD training set (16 heavy atoms in
``polygen-train-set.csv``, e.g. ``CCC=CCCCN(CCN*)CCNC(=O)*``; Khajeh et al. 2025,
section 3.3), and a SMILES of at most :data:`MAX_SMILES_CHARS` characters,
checked before parsing. Without them a linear 999-atom unit took 75 s in
:func:`~polyhpc.chem.canonical_repeat_unit` (a linear 64-atom one: 0.05 s).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rdkit import Chem, rdBase

from polyhpc.errors import InvalidSmilesError

#: Elements of the HTP-MD chemical space (Khajeh et al. 2025, section 3.3).
ALLOWED_ELEMENTS = frozenset({"H", "C", "N", "O", "F", "S", "P"})
#: Largest repeat unit of the HTP-MD training set, in heavy atoms (polygen-train-set.csv).
HTPMD_MAX_HEAVY_ATOMS = 16
#: Most heavy atoms (neither end markers nor hydrogens) a unit may hold: 4x the HTP-MD largest.
MAX_HEAVY_ATOMS = 4 * HTPMD_MAX_HEAVY_ATOMS
#: Longest SMILES read (checked before parsing: RDKit takes 4 s on 100,000 characters);
#: 32 characters per allowed heavy atom leaves room for brackets, stereo and explicit H.
MAX_SMILES_CHARS = 32 * MAX_HEAVY_ATOMS

# [Au]/[Cu] (HTP-MD, PolyGen), bracketed or mapped dummies ([*], [*:1]).
_END_MARKER = re.compile(r"\[(?:Au|Cu|\*(?::\d+)?)\]")


def normalize_end_markers(smiles: str) -> str:
    """Return ``smiles`` with every end-marker spelling replaced by ``*``."""
    return _END_MARKER.sub("*", smiles.strip())


@dataclass(frozen=True)
class UnitCheck:
    """Outcome of validating one repeat unit.

    Attributes
    ----------
    smiles : str
        The input, end markers normalized to ``*``.
    valid : bool
        Whether every rule passed.
    reason : str or None
        Why the unit was rejected; ``None`` when valid.
    """

    smiles: str
    valid: bool
    reason: str | None = None

    def to_dict(self) -> dict:
        """Plain-data form for JSON output."""
        return {"smiles": self.smiles, "valid": self.valid, "reason": self.reason}


def _find_violation(mol: Chem.Mol) -> str | None:
    """Return the first broken rule for a parsed unit, or ``None``."""
    heavy = sum(1 for atom in mol.GetAtoms() if atom.GetAtomicNum() > 1)
    if heavy > MAX_HEAVY_ATOMS:
        return (f"{heavy} heavy atoms; polyhpc supports units of at most {MAX_HEAVY_ATOMS} "
                f"(4x the largest HTP-MD training unit, {HTPMD_MAX_HEAVY_ATOMS})")
    ends = [atom for atom in mol.GetAtoms() if atom.GetAtomicNum() == 0]
    if len(ends) != 2:
        return f"expected exactly 2 end markers '*', found {len(ends)}"
    fragments = len(Chem.GetMolFrags(mol))
    if fragments > 1:
        return (f"disconnected: {fragments} separate molecules ('.' in the SMILES); "
                "a repeat unit is one molecule joining its two ends")
    for end in ends:
        if end.GetDegree() != 1:
            return f"an end marker must be bonded to exactly one atom, found {end.GetDegree()}"
        neighbour = end.GetNeighbors()[0]
        if neighbour.GetAtomicNum() == 0:
            return "the two end markers are bonded to each other"
        bond = end.GetBonds()[0]
        if bond.GetBondType() != Chem.BondType.SINGLE:
            kind = str(bond.GetBondType()).lower()
            return f"an end marker is joined by a {kind} bond; ends need single bonds"
    for atom in mol.GetAtoms():
        if atom.GetAtomicNum() == 0:
            continue
        symbol = atom.GetSymbol()
        if symbol not in ALLOWED_ELEMENTS:
            return f"element {symbol} is outside {' '.join(sorted(ALLOWED_ELEMENTS))}"
        if atom.GetFormalCharge() != 0:
            return f"charged atom {symbol}{atom.GetFormalCharge():+d} (atom {atom.GetIdx()})"
        if atom.GetNumRadicalElectrons() != 0:
            return f"radical atom {symbol} (atom {atom.GetIdx()})"
    return None


def _parse(smiles: str) -> tuple[Chem.Mol | None, str | None]:
    normalized = normalize_end_markers(smiles)
    if not normalized:
        return None, "empty SMILES"
    if len(normalized) > MAX_SMILES_CHARS:
        return None, (f"SMILES of {len(normalized)} characters; polyhpc reads units of at most "
                      f"{MAX_SMILES_CHARS} ({MAX_HEAVY_ATOMS} heavy atoms)")
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(normalized)
    if mol is None:
        return None, f"unparsable SMILES {normalized!r}"
    return mol, _find_violation(mol)


def check_repeat_unit(smiles: str) -> UnitCheck:
    """Validate a repeat unit and say why it fails, without raising.

    Parameters
    ----------
    smiles : str
        Repeat unit with two end markers (``*``, ``[*]``, ``[Au]``/``[Cu]``).

    Returns
    -------
    UnitCheck
        ``valid`` and, when invalid, the first rule that failed.
    """
    _, reason = _parse(smiles)
    return UnitCheck(normalize_end_markers(smiles), reason is None, reason)


def parse_repeat_unit(smiles: str) -> Chem.Mol:
    """Parse a repeat unit into an RDKit molecule whose ends are dummy atoms.

    Raises
    ------
    InvalidSmilesError
        With the reason, when any validation rule fails.
    """
    mol, reason = _parse(smiles)
    if reason is not None:
        shown = repr(smiles)
        if len(smiles) > 80:  # one line that a terminal shows whole
            shown = f"{smiles[:60]!r}... ({len(smiles)} characters)"
        raise InvalidSmilesError(f"invalid repeat unit {shown}: {reason}")
    return mol


def end_atoms(mol: Chem.Mol) -> tuple[int, int, int, int]:
    """Return ``(end1, atom1, end2, atom2)`` indices of a validated unit.

    ``end1``/``end2`` are the dummy atoms in input order, ``atom1``/``atom2``
    the unit atoms they are bonded to.
    """
    ends = [atom for atom in mol.GetAtoms() if atom.GetAtomicNum() == 0]
    first, second = ends
    return (
        first.GetIdx(),
        first.GetNeighbors()[0].GetIdx(),
        second.GetIdx(),
        second.GetNeighbors()[0].GetIdx(),
    )
