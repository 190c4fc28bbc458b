import pytest
from rdkit import Chem

from polyhpc.md.coverage import parameter_coverage, unit_assignment
from polyhpc.md.forcefield import ParameterLookup, assign_parameters
from polyhpc.md.frc import default_frc_path, read_frc
from polyhpc.md.typing import TypingError, assign_types


@pytest.fixture(scope="module")
def lookup():
    return ParameterLookup(read_frc())


def test_peo_is_typed_c3_c2_oc_h_with_public_pcff_bond_increment_charges(lookup):
    chain = unit_assignment("*OCC*", lookup)  # CH3-(O-CH2-CH2)3-CH3
    assert set(chain.types) == {"c3", "c2", "oc", "h"} and chain.complete
    # the PEO oligomer CH3-(O-CH2-CH2)2-O-CH3: every CH2 has one ether O neighbour
    a = assign_parameters(Chem.AddHs(Chem.MolFromSmiles("COCCOCCOC")), lookup)
    by_type = {}
    for t, q in zip(a.types, a.charges, strict=True):
        by_type.setdefault(t, set()).add(round(q, 6))
    assert set(by_type) == {"c3", "c2", "oc", "h"}
    assert by_type["oc"] == {-0.266}  # two c-o increments of 0.133
    assert by_type["c2"] == {0.027}  # +0.133 - 2 x 0.053
    assert by_type["h"] == {0.053}
    assert by_type["c3"] == {-0.026}  # methyl cap on O: +0.133 - 3 x 0.053
    assert sum(a.charges) == pytest.approx(0.0, abs=1e-9)
    assert a.complete and not a.approximated


def test_a_force_field_with_other_increments_changes_the_charges(tmp_path):
    text = default_frc_path().read_text()
    line = " 2.1  8   c     o        0.1330  -0.1330"
    assert line in text
    custom = tmp_path / "custom.frc"
    custom.write_text(text.replace(line, " 2.1  8   c     o        0.2000  -0.2000"))
    a = assign_parameters(Chem.AddHs(Chem.MolFromSmiles("COCCOCCOC")),
                          ParameterLookup(read_frc(custom)))
    charges = dict(zip(a.types, a.charges, strict=True))
    assert charges["oc"] == pytest.approx(-0.400)
    assert charges["c2"] == pytest.approx(0.200 - 0.106)


@pytest.mark.parametrize("smiles, expected", [
    ("CC(=O)OC", ["c3", "c_1", "o_1", "o_2", "c3"]),
    ("COC(=O)OC", ["c3", "oz", "cz", "oo", "oz", "c3"]),
    ("CC(=O)NC", ["c3", "c_1", "o_1", "n", "c3"]),
    ("COC(=O)NC", ["c3", "o_2", "c_2", "o_1", "n_2", "c3"]),
    ("CNC", ["c3", "na", "c3"]),
    ("CSC", ["c3", "sc", "c3"]),
    ("CC(F)(F)F", ["c3", "c", "f", "f", "f"]),
    ("CCO", ["c3", "c2", "oh"]),
    ("COCOC", ["c3", "oc", "coh", "oc", "c3"]),
    ("C=CC", ["c=", "c=1", "c3"]),
    ("CS(=O)(=O)C", ["c3", "sf", "o=", "o=", "c3"]),
])
def test_htpmd_chemistries_get_their_pcff_types(smiles, expected):
    types = assign_types(Chem.AddHs(Chem.MolFromSmiles(smiles)))
    assert types[: len(expected)] == expected


def test_urethane_nh_hydrogen_is_the_v21_amino_hydrogen(lookup):
    a = assign_parameters(Chem.AddHs(Chem.MolFromSmiles("COC(=O)NC")), lookup)
    assert "hn2" in a.types and a.complete


def test_an_untypable_atom_is_named_with_its_environment():
    with pytest.raises(TypingError, match=r"no PCFF typing rule for B atom 1 \(H 2"):
        assign_types(Chem.AddHs(Chem.MolFromSmiles("CB")))


@pytest.mark.slow
def test_at_least_98_percent_of_htpmd_units_get_complete_parameters():
    from polyhpc.data import load_htpmd_train

    report = parameter_coverage(load_htpmd_train()["smiles"].tolist(), read_frc())
    assert report.n_units == 6024
    assert report.fraction >= 0.98
    assert report.n_complete == 5904
    # the public PCFF's o-/p increments would charge a neutral P=O: those units are refused
    assert report.failures["non_neutral_increment: p-o="] == 16
    assert report.failures["invalid: element Cl is outside C F H N O P S"] == 27


def test_msi2lmp_library_names_the_force_field_folder_of_a_source_built_lammps(tmp_path,
                                                                               monkeypatch):
    import shutil

    from polyhpc.md.frc import default_frc_path

    wheel = default_frc_path()
    shutil.copy(wheel, tmp_path / "pcff.frc")
    monkeypatch.setenv("MSI2LMP_LIBRARY", str(tmp_path))
    assert default_frc_path() == tmp_path / "pcff.frc"
    monkeypatch.setenv("MSI2LMP_LIBRARY", str(tmp_path / "empty"))  # no pcff.frc there
    assert default_frc_path() == wheel
