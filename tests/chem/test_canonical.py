import pytest

from polyhpc.chem import canonical_repeat_unit, canonicalize_many

SAME_POLYMER = [
    # translation of a 5-atom unit
    ["*OCCOC*", "*COCCO*", "*CCOCO*"],
    # direction (mirror) of the same unit
    ["*CCOCO*", "*OCOCC*"],
    # repetition: PEO written once, twice, shifted
    ["*OCC*", "*CCO*", "*COC*", "*OCCOCC*", "*CCOCCOCCO*", "[Au]CCO[Cu]"],
    ["*CC*", "*C*", "*CCCC*"],
    # branches: string rotation cannot see these are the same
    ["*CC(C)O*", "*C(C)CO*", "*OC(C)C*", "*OCC(C)*", "*CC(C)OCC(C)O*"],
    # rings in the backbone and in side groups
    ["*c1ccc(*)cc1", "*c1ccc(cc1)-c1ccc(*)cc1"],
    ["*Oc1ccc(cc1)C(=O)*", "*C(=O)c1ccc(O*)cc1", "*c1ccc(cc1)C(=O)O*"],
    ["*CC(c1ccccc1)*", "*C(c1ccccc1)C*"],
    ["*OC(=O)OCC*", "*CCOC(=O)O*", "*C(=O)OCCO*"],
]

DIFFERENT = [
    ("*OCC*", "*OCCC*"),
    ("*CC(C)O*", "*CC(CC)O*"),
    ("*CC(C)O*", "*C(C)(C)O*"),
    ("*OCC*", "*OCCOC*"),
    ("*OCCOCCC*", "*OCC*"),
    ("*c1ccc(*)cc1", "*c1cccc(*)c1"),
    ("*NC(=O)CC*", "*NCC(=O)C*"),
]


@pytest.mark.parametrize("group", SAME_POLYMER, ids=lambda g: g[0])
def test_equivalent_units_share_one_identity(group):
    keys = {canonical_repeat_unit(unit) for unit in group}
    assert len(keys) == 1, keys


@pytest.mark.parametrize("first, second", DIFFERENT)
def test_different_polymers_stay_different(first, second):
    assert canonical_repeat_unit(first) != canonical_repeat_unit(second)


def test_canonical_form_of_peo_is_its_minimal_unit():
    assert canonical_repeat_unit("*OCCOCC*") == "*CCO*"
    assert canonical_repeat_unit("*CCCC*") == "*C*"


def test_canonical_form_is_a_fixed_point():
    for group in SAME_POLYMER:
        key = canonical_repeat_unit(group[0])
        assert canonical_repeat_unit(key) == key


def test_batch_canonicalization_records_invalid_units_as_none():
    assert canonicalize_many(["*OCC*", "*CC", "*COC*"]) == ["*CCO*", None, "*CCO*"]


def test_canonical_cache_is_keyed_by_rdkit_and_polyhpc_versions(tmp_path, monkeypatch):
    from polyhpc.chem import canonical

    monkeypatch.setenv("POLYHPC_CACHE", str(tmp_path))
    units = ["*OCC*", "*CC(C)O*"]
    assert canonical.canonical_keys(units) == ["*CCO*", "*CC(C)O*"]
    (written,) = (tmp_path / "canonical").glob("*.json")
    # a cache file from this version that says something else is what gets read back ...
    written.write_text('["poisoned", "poisoned"]')
    assert canonical.canonical_keys(units) == ["poisoned", "poisoned"]
    # ... but another RDKit or polyhpc version never reads it
    monkeypatch.setattr(canonical, "_versions", lambda: "rdkit 0.0; polyhpc 0.0")
    assert canonical.canonical_keys(units) == ["*CCO*", "*CC(C)O*"]
    assert len(list((tmp_path / "canonical").glob("*.json"))) == 2
