"""Polymer chemistry on repeat-unit SMILES with two ``*`` end markers.

A notebook's canonical identity of a polymer::

    from polyhpc.chem import canonical_repeat_unit
    canonical_repeat_unit("*OCCOCC*")    # '*CCO*': PEO, whatever the spelling

The names below are imported eagerly, unlike those of :mod:`polyhpc.generate` and
:mod:`polyhpc.md`: every module of this package needs RDKit, so deferring would save
nothing, and ``polymerize`` is both a module and a function here, which a lazy
``__getattr__`` cannot keep apart once the module is imported.
"""

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
