import pytest
from rdkit import Chem

from polyhpc.chem import (
    canonical_repeat_unit,
    check_repeat_unit,
    normalize_end_markers,
    parse_repeat_unit,
)
from polyhpc.chem.smiles import HTPMD_MAX_HEAVY_ATOMS, MAX_HEAVY_ATOMS, MAX_SMILES_CHARS
from polyhpc.data import load_htpmd_train
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


@pytest.mark.parametrize("smiles", ["*CC.O*", "*CC*.O", "*C.C*"])
def test_a_disconnected_unit_is_refused(smiles):
    check = check_repeat_unit(smiles)
    assert not check.valid
    assert "disconnected: 2 separate molecules" in check.reason
    with pytest.raises(InvalidSmilesError, match="disconnected"):
        parse_repeat_unit(smiles)


def _heavy_atoms(smiles):
    return sum(atom.GetAtomicNum() > 1 for atom in Chem.MolFromSmiles(smiles).GetAtoms())


def test_the_size_limit_is_four_times_the_largest_htpmd_training_unit():
    units = load_htpmd_train()["smiles"]
    counts = units.map(_heavy_atoms)
    assert counts.max() == HTPMD_MAX_HEAVY_ATOMS == 16 and MAX_HEAVY_ATOMS == 64
    largest = units[counts == counts.max()]
    assert len(largest) == 154
    assert all(check_repeat_unit(unit).valid for unit in largest)


def test_a_unit_above_the_size_limit_is_refused_naming_the_limit():
    at_limit = "*" + "C" * 64 + "*"
    assert check_repeat_unit(at_limit).valid
    check = check_repeat_unit("*" + "C" * 65 + "*")
    assert not check.valid
    assert check.reason == ("65 heavy atoms; polyhpc supports units of at most 64 "
                            "(4x the largest HTP-MD training unit, 16)")
    with pytest.raises(InvalidSmilesError, match="1000 heavy atoms; .* at most 64"):
        canonical_repeat_unit("*" + "CCO" * 333 + "C*")


def test_a_huge_smiles_is_refused_before_it_is_parsed():
    # a million characters: RDKit would take about 40 s to parse it; refused on its length
    check = check_repeat_unit("*" + "CCO" * 333_333 + "*")
    assert not check.valid
    assert check.reason == ("SMILES of 1000001 characters; polyhpc reads units of at most "
                            f"{MAX_SMILES_CHARS} (64 heavy atoms)")
    with pytest.raises(InvalidSmilesError) as error:
        parse_repeat_unit("*" + "C" * 5000 + "*")
    assert len(str(error.value)) < 250  # the message quotes the start of the unit, not all of it
