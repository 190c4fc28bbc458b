import pytest

from polyhpc.chem import check_repeat_unit, normalize_end_markers, parse_repeat_unit
from polyhpc.errors import InvalidSmilesError


@pytest.mark.parametrize(
    "smiles, reason",
    [
        ("*CC(*", "unparsable SMILES"),
        ("*CCO", "expected exactly 2 end markers '*', found 1"),
        ("*CC(*)O*", "expected exactly 2 end markers '*', found 3"),
        ("CCO", "found 0"),
        ("*1CC*1", "an end marker must be bonded to exactly one atom, found 2"),
        ("**", "the two end markers are bonded to each other"),
        ("*C=*", "joined by a double bond"),
        ("*C#*", "joined by a triple bond"),
        ("*CC(Cl)O*", "element Cl is outside C F H N O P S"),
        ("*C[Si](C)(C)C*", "element Si is outside"),
        ("*C[N+](C)(C)C*", "charged atom N+1"),
        ("*[CH]CO*", "radical atom C"),
    ],
)
def test_every_rejection_names_its_reason(smiles, reason):
    check = check_repeat_unit(smiles)
    assert not check.valid
    assert reason in check.reason


@pytest.mark.parametrize("smiles", ["*OCC*", "[Au]CCO[Cu]", "*c1ccc(*)cc1", "*C(F)(F)C(*)P(=O)(O)O",
                                    "[*]CS[*]", "*C(*)C"])
def test_valid_units_pass(smiles):
    assert check_repeat_unit(smiles).valid


def test_end_markers_are_normalized_from_htpmd_spelling():
    assert normalize_end_markers("O=C([Au])OCCO[Cu]") == "O=C(*)OCCO*"
    assert normalize_end_markers("[*:1]CCO[*:2]") == "*CCO*"


def test_parse_raises_one_error_type_with_the_reason():
    with pytest.raises(InvalidSmilesError, match="element Na"):
        parse_repeat_unit("*C[Na]C*")
