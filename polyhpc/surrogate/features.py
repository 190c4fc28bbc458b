"""Polymer features that respect polymer identity, cached per spelling.

Two feature styles:

- ``periodic`` (default): intensive features of the infinite chain (see
  :mod:`polyhpc.surrogate.periodic`): the periodic Morgan count fingerprint
  per heavy atom (``n_bits`` columns) followed by the
  :data:`~polyhpc.surrogate.periodic.PHYSICS_NAMES` descriptors.
- ``unit`` (the first surrogate's features, kept for the ``gbt`` model): the
  Morgan count fingerprint of the canonical repeat unit with its two ends as
  dummy atoms (radius 2, folded) plus :data:`DESCRIPTOR_NAMES`, a block of
  composition and shape descriptors of the unit, some extensive (heavy
  atoms, rings).

Both are computed on the canonical repeat unit, so translated, mirrored and
repeated spellings get identical features. Rows are cached on disk by
spelling under ``~/.cache/polyhpc/surrogate-features/``, in one file per
feature settings, RDKit, polyhpc and feature version, so a campaign that
retrains on HTP-MD plus a few new rows featurizes only the new rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import rdkit
from rdkit import Chem
from rdkit.Chem import Crippen, Descriptors, rdFingerprintGenerator, rdMolDescriptors

from polyhpc.chem.canonical import canonical_keys
from polyhpc.chem.polymerize import backbone_length
from polyhpc.surrogate.config import UNIT_FEATURES, FeatureSettings
from polyhpc.surrogate.periodic import (
    PHYSICS_NAMES,
    PeriodicUnit,
    periodic_fingerprint,
    physics_descriptors,
)

log = logging.getLogger(__name__)

#: Bump when a feature definition changes: old cache files are then ignored.
FEATURE_VERSION = 2

DESCRIPTOR_NAMES = (
    "heavy_atoms", "backbone_atoms", "side_atoms_per_backbone", "C_frac", "N_frac",
    "O_frac", "S_frac", "F_frac", "P_frac", "polar_per_backbone", "rings", "aromatic_frac",
    "rotatable_per_backbone", "tpsa_per_heavy", "logp_per_heavy", "double_bonds",
)
__all__ = ["DESCRIPTOR_NAMES", "UNIT_FEATURES", "FeatureSettings", "descriptor_names",
           "feature_row", "featurize", "width"]


def descriptor_names(settings: FeatureSettings) -> tuple[str, ...]:
    """Names of the descriptor columns that follow the fingerprint."""
    if not settings.descriptors:
        return ()
    return PHYSICS_NAMES if settings.style == "periodic" else DESCRIPTOR_NAMES


def width(settings: FeatureSettings) -> int:
    """Number of feature columns."""
    return settings.n_bits + len(descriptor_names(settings))


def _unit_descriptors(mol: Chem.Mol) -> list[float]:
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


def feature_row(key: str, settings: FeatureSettings) -> np.ndarray:
    """Features of one canonical repeat unit.

    Returns
    -------
    (width(settings),) float32
    """
    mol = Chem.MolFromSmiles(key)
    if settings.style == "periodic":
        cell = PeriodicUnit(mol)
        parts = [periodic_fingerprint(cell, settings.radius, settings.n_bits)]
        if settings.descriptors:
            parts.append(physics_descriptors(cell))
    else:
        generator = rdFingerprintGenerator.GetMorganGenerator(radius=settings.radius,
                                                              fpSize=settings.n_bits)
        parts = [generator.GetCountFingerprintAsNumPy(mol).astype(np.float64)]
        if settings.descriptors:
            parts.append(np.array(_unit_descriptors(mol)))
    return np.concatenate(parts).astype(np.float32)


def _cache_path(settings: FeatureSettings) -> Path:
    from polyhpc import __version__
    from polyhpc.data.registry import cache_dir

    # canonical identities are cached too: the polyhpc version covers their definition
    text = json.dumps({**settings.to_dict(), "rdkit": rdkit.__version__, "polyhpc": __version__,
                       "feature_version": FEATURE_VERSION}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return cache_dir() / "surrogate-features" / f"{digest}.npz"


def _read_cache(path: Path, width: int) -> tuple[list[str], list[str | None], np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            smiles, keys, rows = list(data["smiles"]), list(data["keys"]), data["features"]
        if rows.shape[1] == width and len(smiles) == len(keys) == len(rows):
            return smiles, [k or None for k in keys], rows
        log.warning("ignoring feature cache %s (shape %s)", path, rows.shape)
    except FileNotFoundError:
        pass
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable feature cache %s (%s)", path, exc)
    return [], [], np.empty((0, width), dtype=np.float32)


def _write_cache(path: Path, smiles: list[str], keys: list[str | None], rows: np.ndarray):
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial.npz")
    np.savez_compressed(partial, smiles=np.array(smiles, dtype=str),
                        keys=np.array([k or "" for k in keys], dtype=str), features=rows)
    os.replace(partial, path)


def featurize(smiles: list[str], settings: FeatureSettings | None = None,
              keys: list[str | None] | None = None,
              cache: bool = True) -> tuple[np.ndarray, list[str | None]]:
    """Feature matrix and canonical identities of repeat units.

    Parameters
    ----------
    smiles : list of str
        Repeat units with two end markers.
    settings : FeatureSettings, optional
        Default: periodic features.
    keys : list, optional
        Canonical identities if already known (skips canonicalization).
    cache : bool
        Read and extend the on-disk feature cache (training sets); candidates
        to predict pass ``False`` so that one-off units do not grow it.

    Returns
    -------
    features : (n, width(settings)) float32
        Rows of invalid units are NaN.
    keys : list of str or None
        Canonical identity per unit (None when invalid).
    """
    smiles = list(smiles)
    settings = settings or FeatureSettings()
    path = _cache_path(settings)
    known_smiles, known_keys, known_rows = (_read_cache(path, width(settings)) if cache
                                            else ([], [], None))
    where = {s: i for i, s in enumerate(known_smiles)}
    out = np.full((len(smiles), width(settings)), np.nan, dtype=np.float32)
    out_keys: list[str | None] = [None] * len(smiles)
    missing = []
    for row, item in enumerate(smiles):
        if item in where and keys is None:
            out[row] = known_rows[where[item]]
            out_keys[row] = known_keys[where[item]]
        else:
            missing.append(row)
    if missing:
        new_smiles = [smiles[i] for i in missing]
        new_keys = [keys[i] for i in missing] if keys is not None \
            else canonical_keys(new_smiles, cache=cache)
        for row, key in zip(missing, new_keys, strict=True):
            out_keys[row] = key
            if key is None:
                continue
            try:
                out[row] = feature_row(key, settings)
            except Exception as exc:  # noqa: BLE001 - one odd unit must not stop a batch
                log.warning("no features for %s: %s", key, exc)
        if cache and keys is None:
            fresh = {smiles[r]: r for r in missing}
            _write_cache(path, known_smiles + list(fresh), known_keys + [out_keys[r] for r in
                                                                        fresh.values()],
                         np.concatenate([known_rows, out[list(fresh.values())]]))
    return out, out_keys
