"""Polymer features that respect polymer identity.

Every feature is computed on the canonical repeat unit (with its two ends as
dummy atoms), so translated, mirrored and repeated spellings of one polymer
get identical features and identical predictions. Features: Morgan count
fingerprint (radius 2, folded) plus a small block of composition and shape
descriptors normalized per backbone atom, which carry what the fingerprint
folds away (chain stiffness, polar-atom density).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

from polyhpc.chem.canonical import canonical_keys
from polyhpc.chem.polymerize import backbone_length

DESCRIPTOR_NAMES = (
    "heavy_atoms", "backbone_atoms", "side_atoms_per_backbone", "C_frac", "N_frac",
    "O_frac", "S_frac", "F_frac", "P_frac", "polar_per_backbone", "rings", "aromatic_frac",
    "rotatable_per_backbone", "tpsa_per_heavy", "logp_per_heavy", "double_bonds",
)


@dataclass(frozen=True)
class FeatureSettings:
    """How features are built (saved with every model)."""

    radius: int = 2
    n_bits: int = 1024
    descriptors: bool = True

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


def _descriptors(mol: Chem.Mol) -> list[float]:
    heavy = [a for a in mol.GetAtoms() if a.GetAtomicNum() > 0]
    n_heavy = len(heavy)
    backbone = backbone_length(mol)
    symbols = [a.GetSymbol() for a in heavy]
    polar = sum(s in ("N", "O", "S") for s in symbols)
    capped = Chem.RemoveHs(Chem.MolFromSmiles(Chem.MolToSmiles(mol).replace("*", "[H]")))
    double = sum(b.GetBondType() == Chem.BondType.DOUBLE for b in mol.GetBonds())
    return [
        n_heavy, backbone, (n_heavy - backbone) / backbone,
        *(symbols.count(e) / n_heavy for e in ("C", "N", "O", "S", "F", "P")),
        polar / backbone, rdMolDescriptors.CalcNumRings(mol),
        sum(a.GetIsAromatic() for a in heavy) / n_heavy,
        Descriptors.NumRotatableBonds(capped) / backbone,
        rdMolDescriptors.CalcTPSA(capped) / n_heavy, Crippen.MolLogP(capped) / n_heavy, double,
    ]


def featurize(smiles: list[str], settings: FeatureSettings = FeatureSettings(),
              keys: list[str | None] | None = None,
              cache: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """Feature matrix and canonical identities of repeat units.

    Parameters
    ----------
    smiles : list of str
        Repeat units with two end markers.
    settings : FeatureSettings
    keys : list, optional
        Canonical identities if already known (skips canonicalization).
    cache : bool
        Keep canonical identities of this exact list on disk (training sets).

    Returns
    -------
    features : (n, n_bits [+ 16]) float32
        Rows of invalid units are NaN.
    keys : list of str or None
        Canonical identity per unit (None when invalid).
    """
    keys = keys if keys is not None else canonical_keys(list(smiles), cache=cache)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=settings.radius,
                                                          fpSize=settings.n_bits)
    width = settings.n_bits + (len(DESCRIPTOR_NAMES) if settings.descriptors else 0)
    out = np.full((len(keys), width), np.nan, dtype=np.float32)
    for row, key in enumerate(keys):
        if key is None:
            continue
        mol = Chem.MolFromSmiles(key)
        out[row, : settings.n_bits] = generator.GetCountFingerprintAsNumPy(mol)
        if settings.descriptors:
            out[row, settings.n_bits:] = _descriptors(mol)
    return out, keys
