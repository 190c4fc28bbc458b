"""Polymer chemistry on repeat-unit SMILES with two ``*`` end markers."""

from polyhpc.chem.canonical import canonical_keys, canonical_repeat_unit, canonicalize_many
from polyhpc.chem.descriptors import morgan_fingerprint, sa_score
from polyhpc.chem.polymerize import Chain, polymerize
from polyhpc.chem.smiles import (
    ALLOWED_ELEMENTS,
    UnitCheck,
    check_repeat_unit,
    normalize_end_markers,
    parse_repeat_unit,
)

__all__ = [
    "ALLOWED_ELEMENTS",
    "Chain",
    "UnitCheck",
    "canonical_keys",
    "canonical_repeat_unit",
    "canonicalize_many",
    "check_repeat_unit",
    "morgan_fingerprint",
    "normalize_end_markers",
    "parse_repeat_unit",
    "polymerize",
    "sa_score",
]
