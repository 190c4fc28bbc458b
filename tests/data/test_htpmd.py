import json

import pytest
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.data import load_htpmd_properties, load_htpmd_train, resolve
from polyhpc.errors import DataNotFoundError


def test_data_info_reproduces_the_papers_training_set_statistics():
    result = CliRunner().invoke(main, ["data", "info", "htpmd-train", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["n_polymers"] == 6024
    # Khajeh et al. 2025: range 0.007-0.506, mean 0.062, std 0.036 mS/cm
    assert round(info["min_mS_per_cm"], 3) == 0.007
    assert int(info["max_mS_per_cm"] * 1000) / 1000 == 0.506  # the paper truncates 0.50656
    assert round(info["mean_mS_per_cm"], 3) == 0.062
    assert round(info["std_mS_per_cm"], 3) == 0.036
    # the top 5 % threshold is 0.125 mS/cm, not the paper's printed 0.012
    assert info["high_threshold_mS_per_cm"] == pytest.approx(0.12529, abs=1e-5)
    assert (info["n_high"], info["n_low"]) == (302, 5722)


def test_loader_uses_star_ends_and_unit_named_columns():
    frame = load_htpmd_train()
    assert frame["smiles"].str.count(r"\*").eq(2).all()
    assert not frame["smiles"].str.contains("Au|Cu").any()
    assert frame["conductivity_mS_per_cm"].iloc[0] == pytest.approx(0.0757483378879945)
    assert frame["conductivity_S_per_cm"].iloc[0] == pytest.approx(7.57483378879945e-05)


def test_property_table_has_transport_columns_in_named_units():
    frame = load_htpmd_properties()
    assert len(frame) == 6025
    for column in ["li_diffusivity_cm2_per_s", "tfsi_diffusivity_cm2_per_s",
                   "poly_diffusivity_cm2_per_s", "transference_number", "molality_mol_per_kg"]:
        assert frame[column].notna().all()
    assert frame["molality_mol_per_kg"].median() == pytest.approx(1.46, abs=0.05)


def test_missing_data_offline_says_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYHPC_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("POLYHPC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="set POLYHPC_DATA to a folder holding "
                                                "htpmd/polygen-train-set.csv"):
        resolve("htpmd-train", download=False)


def test_cli_shows_library_errors_as_one_line():
    result = CliRunner().invoke(main, ["smiles", "polymerize", "C1CC1"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: invalid repeat unit 'C1CC1': expected exactly 2 end markers '*', found 0"]


def test_download_lands_in_the_cache_only_with_the_right_checksum(monkeypatch, tmp_path,
                                                                  shared_data):
    import hashlib

    from polyhpc.data import registry
    from polyhpc.errors import DataIntegrityError

    source = shared_data / "htpmd" / "polygen-train-set.csv"
    good = registry.Dataset("test-set", "x/test.csv", source.resolve().as_uri(),
                            hashlib.sha256(source.read_bytes()).hexdigest(), "test")
    monkeypatch.setitem(registry.DATASETS, "test-set", good)
    monkeypatch.delenv("POLYHPC_DATA", raising=False)
    monkeypatch.setenv("POLYHPC_CACHE", str(tmp_path))
    path = resolve("test-set")
    assert path == tmp_path / "x" / "test.csv" and path.read_bytes() == source.read_bytes()
    bad = registry.Dataset("bad-set", "x/bad.csv", source.resolve().as_uri(), "0" * 64, "test")
    monkeypatch.setitem(registry.DATASETS, "bad-set", bad)
    with pytest.raises(DataIntegrityError, match="expected 0000"):
        resolve("bad-set")
    assert not (tmp_path / "x" / "bad.csv").exists()


def test_data_info_help_names_its_default_and_the_default_is_that_dataset():
    help_text = CliRunner().invoke(main, ["data", "info", "--help"]).output
    assert "default: htpmd-train" in " ".join(help_text.split())
    default = CliRunner().invoke(main, ["data", "info", "--json"])
    named = CliRunner().invoke(main, ["data", "info", "htpmd-train", "--json"])
    assert default.exit_code == 0 and json.loads(default.output) == json.loads(named.output)
    unknown = CliRunner().invoke(main, ["data", "info", "nope"])
    assert unknown.exit_code == 2
    assert unknown.output == ("error: unknown dataset 'nope'; known: htpmd-properties, "
                              "htpmd-train\n")
