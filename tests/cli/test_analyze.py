"""`polyhpc analyze`: replicas, saved results, honest text and provenance (issue 14)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from polyhpc.analysis.pipeline import analyze_path
from polyhpc.analysis.synthetic import write_synthetic_dump
from polyhpc.cli import main

SMOKE_META = {
    "mol_smiles": "[Cu]CCO[Au]", "poly_smiles": "CCCOCCOCCOC", "protocol": "smoke",
    "deviations": ["durations scaled by 2e-4: not physically equilibrated"],
    "force_field": "PCFF (pcff.frc)",
    "force_field_file": {"name": "pcff.frc", "sha256": "0123456789abcdef" * 4},
}


def _replica(folder, seed=0, n_pairs=5, n_frames=6, **meta):
    """A small synthetic trajectory with ``meta`` merged into its meta.json."""
    path = write_synthetic_dump(folder / "traj.lammpstrj", n_frames=n_frames, n_atoms=240,
                                n_pairs=n_pairs, seed=seed)
    meta_file = folder / "meta.json"
    meta_file.write_text(json.dumps(json.loads(meta_file.read_text()) | SMOKE_META | meta))
    return path


def _run(*args):
    return CliRunner().invoke(main, ["analyze", *map(str, args)])


def _one_error_line(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, result.output
    return errors[0]


@pytest.mark.parametrize("change, named", [
    ({"mol_smiles": "[Cu]CCCO[Au]"}, "polymer (mol_smiles) (a: '*CCO*', b: '*CCCO*')"),
    ({"n_pairs": 6}, "Li+ count (a: 5, b: 6); TFSI- count (a: 5, b: 6)"),
    ({"temperature": 400.0}, "temperature (K) (a: 353.0, b: 400.0)"),
    ({"protocol": "paper", "deviations": []}, "protocol (a: 'smoke', b: 'paper')"),
    ({"force_field": "PCFF+"}, "force field (a: 'PCFF (pcff.frc)', b: 'PCFF+')"),
    ({"protocol_sha256": "f" * 64}, "protocol settings (sha256) (a: None, b: 'ffffffffff"),
    ({"force_field_file": {"name": "pcff.frc", "sha256": "e" * 64}},
     "force-field file sha256 (a: '0123456789abcdef"),
])
def test_replicas_of_different_systems_are_refused_naming_what_differs(tmp_path, change, named):
    _replica(tmp_path / "a", seed=0)
    n_pairs = change.pop("n_pairs", 5)
    _replica(tmp_path / "b", seed=1, n_pairs=n_pairs, **change)
    line = _one_error_line(_run(tmp_path / "a", tmp_path / "b", "--save", "--out",
                                tmp_path / "out"))
    assert "2 trajectories are not replicas of one system, they differ in" in line
    assert named in line
    assert not (tmp_path / "out").exists()


def test_replica_mean_and_std_are_saved_as_aggregate_json(tmp_path):
    for k in range(3):
        _replica(tmp_path / "runs" / f"rep{k}", seed=k)
    out = tmp_path / "out"
    result = _run(*(tmp_path / "runs" / f"rep{k}" for k in range(3)), "--save", "--out", out)
    assert result.exit_code == 0, result.output
    direct = [analyze_path(tmp_path / "runs" / f"rep{k}") for k in range(3)]
    aggregate = json.loads((out / "aggregate.json").read_text())
    assert aggregate["n_replicas"] == 3 and aggregate["names"] == ["rep0", "rep1", "rep2"]
    for key in ["conductivity", "li_diffusivity", "tfsi_diffusivity", "molality", "density"]:
        values = np.array([getattr(r, key) for r in direct])
        assert aggregate["mean"][key] == pytest.approx(values.mean(), rel=1e-12)
        assert aggregate["std"][key] == pytest.approx(values.std(ddof=1), rel=1e-12)
        assert aggregate["values"][key] == pytest.approx(values.tolist(), rel=1e-12)
    assert aggregate["provenance"]["protocol"] == "smoke"
    assert aggregate["units"]["conductivity"] == "S/cm"
    # the printed mean ± std is the saved one
    mean, std = aggregate["mean"]["conductivity"], aggregate["std"]["conductivity"]
    assert f"{mean:.6g} ± {std:.2g} S/cm" in result.output
    for k in range(3):
        saved = json.loads((out / f"rep{k}.json").read_text())
        assert saved["li_diffusivity"] == pytest.approx(direct[k].li_diffusivity, rel=1e-12)


def test_replicas_with_the_same_folder_names_get_distinct_result_files(tmp_path):
    a = _replica(tmp_path / "a" / "rep0", seed=0)
    b = _replica(tmp_path / "b" / "rep0", seed=1)
    out = tmp_path / "out"
    result = _run(a, b, "--save", "--plot", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "a-rep0-traj-msd.png", "a-rep0-traj-population.png", "a-rep0-traj.json",
        "aggregate.json", "b-rep0-traj-msd.png", "b-rep0-traj-population.png",
        "b-rep0-traj.json"]
    first = json.loads((out / "a-rep0-traj.json").read_text())
    second = json.loads((out / "b-rep0-traj.json").read_text())
    assert first["source"] == str(a.resolve()) or first["source"] == str(a)
    assert first["li_diffusivity"] == pytest.approx(analyze_path(a).li_diffusivity, rel=1e-12)
    assert second["li_diffusivity"] == pytest.approx(analyze_path(b).li_diffusivity, rel=1e-12)
    assert first["li_diffusivity"] != second["li_diffusivity"]


def test_the_same_trajectory_twice_is_not_two_replicas(tmp_path):
    path = _replica(tmp_path / "rep0")
    line = _one_error_line(_run(path.parent, path))
    assert "is given twice" in line


def test_saving_refuses_to_leave_another_analysis_beside_the_new_one(tmp_path):
    for k in range(3):
        _replica(tmp_path / "x" / f"rep{k}", seed=k)
    for k in range(2):
        _replica(tmp_path / "y" / f"rep{k}", seed=10 + k, mol_smiles="[Cu]CCCO[Au]")
    out = tmp_path / "out"
    assert _run(*(tmp_path / "x" / f"rep{k}" for k in range(3)), "--save", "--out",
                out).exit_code == 0
    line = _one_error_line(_run(tmp_path / "y" / "rep0", tmp_path / "y" / "rep1", "--save",
                                "--out", out))
    assert "holds results of other trajectories from an earlier analysis (rep2.json)" in line
    assert json.loads((out / "aggregate.json").read_text())["provenance"]["mol_smiles"] == \
        "[Cu]CCO[Au]"


@pytest.mark.parametrize("args, option, message", [
    (["--max-cluster", "0"], "--max-cluster", "0 is not in the range x>=2"),
    (["--max-cluster", "1"], "--max-cluster", "1 is not in the range x>=2"),
    (["--temperature", "0"], "--temperature", "0.0 is not in the range x>0"),
    (["--cutoff", "-1"], "--cutoff", "-1.0 is not in the range x>0"),
    (["--frame-interval", "-2"], "--frame-interval", "-2.0 is not in the range x>0"),
    (["--temperature", "nan"], "--temperature", "nan is not a finite number"),
    (["--cutoff", "inf"], "--cutoff", "inf is not a finite number"),
])
def test_impossible_options_are_one_line_errors_naming_the_option(tmp_path, args, option,
                                                                   message):
    path = _replica(tmp_path / "rep0")
    line = _one_error_line(_run(path, *args))
    assert f"Invalid value for '{option}': {message}" in line


@pytest.mark.parametrize("field, value, message", [
    ("time_step", -2.0, "time_step must be > 0.0 (ps between saved frames), got -2.0"),
    ("time_step", 0, "time_step must be > 0.0 (ps between saved frames), got 0.0"),
    ("temperature", 0.0, "temperature must be > 0.0 (K), got 0.0"),
    ("temperature", True, "temperature must be a number, got True"),
    ("time_step", "2", "time_step must be a number, got '2'"),
    ("cation_raw_type", 0, "cation_raw_type must be >= 1 (LAMMPS atom type), got 0"),
    ("polymer_raw_type_range", [89, 0],
     "polymer_raw_type_range must be [low, high] with low <= high, got [89, 0]"),
    ("polymer_raw_type_range", [-1, 89],
     "polymer_raw_type_range must be >= 0 (LAMMPS atom types), got -1"),
    ("polymer_solvate_types", [8, 200],
     "polymer_solvate_types must be >= 1 and <= 118 (atomic numbers), got 200"),
    ("cluster_cutoff_A", -3.4, "cluster_cutoff_A must be > 0.0 (Å), got -3.4"),
    ("deviations", "short", "deviations must be a list of strings, got 'short'"),
])
def test_impossible_meta_json_fields_are_one_line_errors_naming_file_and_field(
        tmp_path, field, value, message):
    path = _replica(tmp_path / "rep0", **{field: value})
    line = _one_error_line(_run(path))
    assert line == f"error: {path.parent / 'meta.json'}: {message}"


def test_text_output_says_why_a_value_is_missing_instead_of_printing_nan(tmp_path):
    paths = [_replica(tmp_path / f"rep{k}", seed=k, n_frames=4) for k in range(2)]
    result = _run(*paths, "--cutoff", "30")  # every ion in one cluster of 5 + 5: no charge
    assert result.exit_code == 0, result.output
    assert "nan" not in result.output.lower().replace("n/a", "")
    lines = {line.split("  ")[1].strip(): line for line in result.output.splitlines()
             if line.startswith("  ")}
    assert "n/a (MSD fit needs >= 5 frames, got 4)" in lines["Li diffusivity (MSD fit)"]
    assert ("n/a (undefined: no charged cluster with fewer than 10 cations and 10 anions)"
            in lines["transference number (cluster NE)"])
    assert "0 ± 0 S/cm  [zero: no charged cluster" in lines["conductivity (cluster NE)"]
    single = _run(paths[0], "--json")
    assert json.loads(single.stdout)["replicas"][0]["notes"]["li_diffusivity_fit"] == \
        "MSD fit needs >= 5 frames, got 4"


def test_provenance_reaches_text_json_and_saved_results(tmp_path):
    path = _replica(tmp_path / "rep0")
    text = _run(path)
    assert text.exit_code == 0, text.output
    assert "protocol smoke (DEVIATES from the paper); force field PCFF (pcff.frc) sha256 " \
           "01234567" in text.output
    assert ("WARNING: protocol 'smoke' deviates from the paper protocol: durations scaled by "
            "2e-4: not physically equilibrated. Not comparable") in text.stderr
    assert "WARNING" not in text.stdout
    out = tmp_path / "out"
    assert _run(path, "--save", "--out", out).exit_code == 0
    provenance = json.loads((out / "traj.json").read_text())["provenance"]
    assert provenance == {
        "mol_smiles": "[Cu]CCO[Au]", "poly_smiles": "CCCOCCOCCOC", "protocol": "smoke",
        "deviations": ["durations scaled by 2e-4: not physically equilibrated"],
        "protocol_sha256": None, "force_field": "PCFF (pcff.frc)", "md": {},
        "force_field_file": {"name": "pcff.frc", "sha256": "0123456789abcdef" * 4}}


def test_htpmd_files_carry_their_force_field_and_no_protocol(reference_trajectory):
    result = _run(reference_trajectory, "--json")
    provenance = json.loads(result.output)["replicas"][0]["provenance"]
    assert provenance["force_field"] == "PCFF+" and provenance["protocol"] is None
    assert provenance["mol_smiles"] == "CC(CCNCC(C)OC(=O)[Au])CCO[Cu]"
    text = _run(reference_trajectory).output
    assert "protocol not recorded in meta.json; force field PCFF+" in text
    assert "WARNING" not in text


def test_json_output_is_pure_json_on_stdout_and_the_protocol_warning_goes_to_stderr(tmp_path):
    path = _replica(tmp_path / "rep0")
    result = _run(path, "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)  # nothing but the JSON document
    assert payload["replicas"][0]["provenance"]["protocol"] == "smoke"
    warnings = [line for line in result.stderr.splitlines() if line.startswith("WARNING")]
    assert warnings == ["WARNING: protocol 'smoke' deviates from the paper protocol: durations "
                        "scaled by 2e-4: not physically equilibrated. Not comparable with "
                        "HTP-MD or paper-protocol values."]


def test_the_polymer_line_shows_the_unit_with_star_ends(tmp_path, reference_trajectory):
    path = _replica(tmp_path / "rep0")  # meta.json: [Cu]CCO[Au]
    assert "polymer *CCO*\n" in _run(path).stdout
    text = _run(reference_trajectory).stdout
    assert "polymer CC(CCNCC(C)OC(=O)*)CCO*\n" in text
    assert "[Au]" not in text and "[Cu]" not in text


def test_polyethylene_gets_a_conductivity_and_says_why_its_polymer_diffusivity_is_missing(
        tmp_path):
    from tests.analysis.test_pipeline import NO_POLYMER_REASON, _polyethylene

    path = _polyethylene(tmp_path / "pe")
    result = _run(path)
    assert result.exit_code == 0, result.output
    lines = {line.split("  ")[1].strip(): line for line in result.stdout.splitlines()
             if line.startswith("  ")}
    assert f"n/a ({NO_POLYMER_REASON})" in lines["polymer diffusivity"]
    direct = analyze_path(path)
    assert f"{direct.conductivity:.6g} S/cm" in lines["conductivity (cluster NE)"]
    saved = json.loads(_run(path, "--json").stdout)["replicas"][0]
    assert saved["poly_diffusivity"] is None and saved["conductivity"] == direct.conductivity
    assert saved["notes"]["poly_diffusivity"] == NO_POLYMER_REASON


@pytest.mark.parametrize("content, message", [
    (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "is not a text file (meta.json is UTF-8 JSON)"),
    (b"null", "must hold a JSON object of fields, got null"),
    (b"[90, 93]", "must hold a JSON object of fields, got [90, 93]"),
    (b"\"temperature\"", 'must hold a JSON object of fields, got "temperature"'),
    (b"[" * 100_000, "is not valid JSON: nested too deeply"),
    (b'{"temperature": 1' + b"0" * 5000 + b"}", "is not valid JSON: Exceeds the limit"),
    (b"{\"temperature\": 353,", "is not valid JSON: Expecting property name"),
])
def test_a_damaged_meta_json_is_a_one_line_error_naming_it(tmp_path, content, message):
    path = _replica(tmp_path / "rep0")
    meta = path.parent / "meta.json"
    meta.write_bytes(content)
    line = _one_error_line(_run(path.parent))
    assert line.startswith(f"error: {meta} {message}"), line


def test_a_meta_json_that_is_a_folder_is_a_one_line_error(tmp_path):
    path = _replica(tmp_path / "rep0")
    meta = path.parent / "meta.json"
    meta.unlink()
    meta.mkdir()
    line = _one_error_line(_run(path.parent))
    assert line == f"error: metadata file {meta} is a folder, not a file"


@pytest.mark.parametrize("field, value, message", [
    ("temperature", 10**400, "temperature must be a finite number, got an integer of 401 digits"),
    ("cation_raw_type", 2**64, "cation_raw_type must be a 64-bit integer, got one of 20 digits"),
])
def test_numbers_beyond_any_float_in_meta_json_are_one_line_errors(tmp_path, field, value,
                                                                    message):
    path = _replica(tmp_path / "rep0", **{field: value})
    line = _one_error_line(_run(path))
    assert line == f"error: {path.parent / 'meta.json'}: {message}"


@pytest.mark.parametrize("fields, message", [
    ({"anion_raw_type": 90},
     "cation_raw_type and anion_raw_type are both 90: the cation and the anion need their own "
     "types"),
    ({"polymer_raw_type_range": [0, 92]},
     "polymer_raw_type_range [0, 92] holds ion type(s) 90 (cation_raw_type): polymer and ion "
     "types must not overlap"),
    ({"polymer_raw_type_range": [91, 100]},
     "polymer_raw_type_range [91, 100] holds ion type(s) 93 (anion_raw_type), 94 "
     "(cluster_anion_types), 95 (cluster_anion_types): polymer and ion types must not overlap"),
    ({"cluster_anion_types": [90, 93, 94, 95]},
     "cation_raw_type 90 is also in cluster_anion_types [90, 93, 94, 95]"),
    ({"cluster_anion_types": [94, 95]},
     "anion_raw_type 93 must be one of cluster_anion_types [94, 95] (the anion is counted by an "
     "atom of its clusters)"),
])
def test_contradictory_type_maps_in_meta_json_are_refused_naming_the_fields(tmp_path, fields,
                                                                            message):
    path = _replica(tmp_path / "rep0", **fields)
    line = _one_error_line(_run(path))
    assert line == f"error: {path.parent / 'meta.json'}: {message}"


@pytest.mark.parametrize("args, message", [
    (["--cation-type", "93"],
     "cation_raw_type and anion_raw_type are both 93: the cation and the anion need their own "
     "types (with cation_raw_type overridden)"),
    (["--anion-type", "90"],
     "cation_raw_type and anion_raw_type are both 90: the cation and the anion need their own "
     "types (with anion_raw_type overridden)"),
    (["--polymer-types", "0:95"],
     "polymer_raw_type_range [0, 95] holds ion type(s) 90 (cation_raw_type), 93 "
     "(anion_raw_type), 94 (cluster_anion_types), 95 (cluster_anion_types): polymer and ion "
     "types must not overlap (with polymer_raw_type_range overridden)"),
])
def test_overrides_that_contradict_the_type_map_are_refused_naming_the_fields(tmp_path, args,
                                                                              message):
    path = _replica(tmp_path / "rep0")
    assert _one_error_line(_run(path, *args)) == f"error: {message}"
