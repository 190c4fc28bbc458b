"""Property-based tests of the repeat-unit checker and the canonical identity.

Units are built from a small grammar of linear backbones with side groups,
so every generated unit is valid by construction; translating (rotating the
backbone), mirroring and repeating it must leave its canonical identity
unchanged, and the checker must never raise on arbitrary text.
"""

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyhpc.chem import canonical_repeat_unit, check_repeat_unit
from polyhpc.chem.smiles import UnitCheck

# backbone atoms with the side groups their valence leaves room for (two backbone bonds)
SIDE_GROUPS = {"C": ["", "(C)", "(F)", "(O)", "(CC)", "(=O)", "(C)(C)", "(F)(F)"],
               "N": ["", "(C)"], "O": [""], "S": ["", "(=O)(=O)"]}

backbone_atom = st.sampled_from(sorted(SIDE_GROUPS)).flatmap(
    lambda atom: st.sampled_from(SIDE_GROUPS[atom]).map(lambda group: atom + group))
backbones = st.lists(backbone_atom, min_size=1, max_size=7)


def unit(atoms: list[str]) -> str:
    return "*" + "".join(atoms) + "*"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_checker_never_raises_on_arbitrary_text(text):
    check = check_repeat_unit(text)
    assert isinstance(check, UnitCheck)
    assert check.valid or check.reason


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="*CNOSFP()=#[]+-@123%cnos" + string.digits, max_size=30))
def test_checker_never_raises_on_smiles_like_text(text):
    check = check_repeat_unit(text)
    assert check.valid == (check.reason is None)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backbones, st.integers(min_value=0, max_value=6))
def test_translation_does_not_change_the_polymer(atoms, shift):
    shift %= len(atoms)
    rotated = atoms[shift:] + atoms[:shift]
    assert canonical_repeat_unit(unit(rotated)) == canonical_repeat_unit(unit(atoms))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backbones)
def test_mirror_image_is_the_same_polymer(atoms):
    # written backwards: side groups stay on their backbone atom
    assert canonical_repeat_unit(unit(atoms[::-1])) == canonical_repeat_unit(unit(atoms))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backbones, st.integers(min_value=2, max_value=3))
def test_repetition_is_the_same_polymer(atoms, copies):
    assert canonical_repeat_unit(unit(atoms * copies)) == canonical_repeat_unit(unit(atoms))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(backbones)
def test_canonical_form_is_valid_and_a_fixed_point(atoms):
    key = canonical_repeat_unit(unit(atoms))
    assert check_repeat_unit(key).valid
    assert canonical_repeat_unit(key) == key
