"""Descriptors of repeat units used by generation metrics and surrogates.

Both descriptors start from the canonical repeat unit, so a translated,
mirrored or repeated spelling of the same polymer gives the same value.

- Fingerprints keep the two ends as dummy atoms (atomic number 0): the
  polymer linkage stays visible to the fingerprint.
- The SA score replaces the ends by hydrogens by default (``H-unit-H``, a
  monomer-like molecule: PEO scores 1.98). ``end_style="reference"`` scores
  the unit with ``[Au]``/``[Cu]`` ends as PolyGen's metrics code does (PEO
  scores 6.72, since the metal atoms have no fragment statistics); use it only
  to compare with numbers published from that code.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from rdkit import Chem, DataStructs
from rdkit.Chem import RDConfig, rdFingerprintGenerator

from polyhpc.chem.canonical import canonical_repeat_unit
from polyhpc.errors import MissingDependencyError


@functools.lru_cache(maxsize=1)
def _sascorer():
    """Import RDKit's Contrib SA_Score (Ertl & Schuffenhauer, J. Cheminf. 2009, 1, 8)."""
    contrib = f"{RDConfig.RDContribDir}/SA_Score"
    if contrib not in sys.path:
        sys.path.append(contrib)
    try:
        import sascorer  # type: ignore[import-not-found]
    except ImportError as exc:
        raise MissingDependencyError(
            "RDKit's Contrib SA_Score is missing; reinstall with `pip install rdkit`"
        ) from exc
    return sascorer


@functools.lru_cache(maxsize=4)
def _morgan_generator(radius: int, n_bits: int):
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def _unit_mol(smiles: str, canonical: bool = False) -> Chem.Mol:
    """Molecule of the canonical unit; ``canonical=True`` says ``smiles`` already is one."""
    return Chem.MolFromSmiles(smiles if canonical else canonical_repeat_unit(smiles))


_END_STYLES = {"hydrogen": ("[H]", "[H]"), "reference": ("[Au]", "[Cu]")}


def sa_score(smiles: str, end_style: str = "hydrogen", canonical: bool = False,
             min_backbone_atoms: int = 1) -> float:
    """Synthetic accessibility score, 1 (easy) to 10 (hard), of a repeat unit.

    Parameters
    ----------
    smiles : str
        Repeat unit with two end markers.
    end_style : {"hydrogen", "reference"}
        What replaces the two ends before scoring (see the module docstring).
    canonical : bool
        ``smiles`` already is a canonical repeat unit.
    min_backbone_atoms : int
        Score the shortest oligomer of the canonical unit with at least this
        many backbone atoms. The fragment statistics of the score misjudge
        one- and two-atom molecules: polyethylene's canonical unit ``*C*``
        scores 7.33 as methane, 1.75 as propane (``min_backbone_atoms=3``).
    """
    if end_style not in _END_STYLES:
        raise ValueError(f"end_style must be one of {sorted(_END_STYLES)}, got {end_style!r}")
    first, second = _END_STYLES[end_style]
    unit = smiles if canonical else canonical_repeat_unit(smiles)
    if min_backbone_atoms > 1:
        from polyhpc.chem.polymerize import backbone_length, repeat_unit

        mol = Chem.MolFromSmiles(unit)
        copies = -(-min_backbone_atoms // backbone_length(mol))
        if copies > 1:
            unit = Chem.MolToSmiles(repeat_unit(mol, copies))
    capped = unit.replace("*", first, 1).replace("*", second, 1)
    mol = Chem.MolFromSmiles(capped)
    if end_style == "hydrogen":
        mol = Chem.RemoveHs(mol)
    return float(_sascorer().calculateScore(mol))


def morgan_fingerprint(smiles: str, radius: int = 2, n_bits: int = 2048,
                       canonical: bool = False):
    """Morgan (ECFP-like) bit vector of a repeat unit as an RDKit ExplicitBitVect.

    ``canonical=True`` skips canonicalization when ``smiles`` is already the
    output of :func:`~polyhpc.chem.canonical_repeat_unit`.
    """
    return _morgan_generator(radius, n_bits).GetFingerprint(_unit_mol(smiles, canonical))


def fingerprint_array(smiles: list[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Morgan fingerprints as a ``(n, n_bits) uint8`` array."""
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for row, item in enumerate(smiles):
        DataStructs.ConvertToNumpyArray(morgan_fingerprint(item, radius, n_bits), out[row])
    return out
