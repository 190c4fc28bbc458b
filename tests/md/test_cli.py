"""``polyhpc md`` on bad input: one-line errors, exit code 2, nothing written or mixed."""

import json

import pytest
from click.testing import CliRunner

from polyhpc.cli import main


def _build(out, *extra, smiles="*CCO*"):
    return CliRunner().invoke(main, ["md", "build", smiles, "--profile", "smoke", "--out",
                                     str(out), *extra])


def test_md_help_shows_each_example_on_its_own_line():
    result = CliRunner().invoke(main, ["md", "--help"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    for command in ("polyhpc md build '*CCO*' --out run/", "polyhpc md run run/",
                    "polyhpc md plot peo/rep0", "polyhpc analyze peo/rep0 peo/rep1"):
        assert any(line.strip().startswith(command) for line in lines), command
    assert "\\b" not in result.output and "\b" not in result.output


def test_md_types_reads_units_from_standard_input_and_names_the_charge_unit():
    result = CliRunner().invoke(main, ["md", "types", "--file", "-", "--json"],
                                input="smiles\n*CCO*\n# a comment\n*CCCO*,0.1\n")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["units"] == {"charges": "e"}
    assert [r["smiles"] for r in report["rows"]] == ["*CCO*", "*CCCO*"]
    assert all(r["complete"] and abs(sum(r["charges"])) < 1e-9 for r in report["rows"])


@pytest.mark.parametrize("option, value", [("--molality", "-1"), ("--molality", "0"),
                                           ("--chains", "0"), ("--chains", "-1"),
                                           ("--pairs", "0"), ("--seed", "-3")])
def test_md_build_refuses_out_of_range_numbers_naming_the_option(tmp_path, option, value):
    out = tmp_path / "run"
    result = _build(out, option, value)
    assert result.exit_code == 2
    assert option in result.output and "Traceback" not in result.output
    assert not out.exists()  # nothing written, no complex-number box left behind


def test_md_build_into_a_folder_holding_a_run_is_refused_unless_forced(tmp_path):
    out = tmp_path / "run"
    assert _build(out).exit_code == 0
    (out / "eq01.log").write_text("a stage of the first system")
    (out / "notes.txt").write_text("the user's own file")
    first = json.loads((out / "meta.json").read_text())
    again = _build(out, smiles="*CCCO*")
    assert again.exit_code == 2
    assert again.output.startswith("error: ") and again.output.count("\n") == 1
    assert "already holds a run" in again.output and "--force" in again.output
    assert json.loads((out / "meta.json").read_text()) == first  # untouched
    forced = _build(out, "--force", smiles="*CCCO*")
    assert forced.exit_code == 0, forced.output
    assert json.loads((out / "meta.json").read_text())["build"]["unit_smiles"] == "*CCCO*"
    assert not (out / "eq01.log").exists() and (out / "notes.txt").is_file()


def test_md_run_refuses_another_profile_than_the_folder_was_built_with(tmp_path):
    out = tmp_path / "run"
    assert _build(out).exit_code == 0
    result = CliRunner().invoke(main, ["md", "run", str(out), "--profile", "paper"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "built/run with profile 'smoke'" in result.output
    assert "eqfactor 0.0002 -> 1.0" in result.output
    assert not (out / "eq01.log").exists()


def test_md_run_refuses_stage_outputs_of_another_system(tmp_path):
    out, other = tmp_path / "run", tmp_path / "other"
    assert _build(out).exit_code == 0 and _build(other, smiles="*CCCO*").exit_code == 0
    meta = json.loads((out / "meta.json").read_text())
    # what run_protocol records for a stage of the first system
    (out / "records.json").write_text(json.dumps([{
        "name": "eq01", "skipped": False, "system_sha256": meta["system_sha256"]}]))
    (out / "system.lmp").write_bytes((other / "system.lmp").read_bytes())
    result = CliRunner().invoke(main, ["md", "run", str(out)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "holds LAMMPS outputs of another system" in result.output


def test_profile_errors_list_the_shipped_profiles(tmp_path):
    result = _build(tmp_path / "x", "--profile", "nope")
    assert result.exit_code == 2
    assert "--profile 'nope'" in result.output
    for name in ("paper", "smoke", "gpu"):
        assert name in result.output
    bare = CliRunner().invoke(main, ["md", "run", str(tmp_path)])
    assert bare.exit_code == 2 and "records no profile: pass --profile" in bare.output


def test_md_build_defaults_to_the_paper_profile(tmp_path):
    result = CliRunner().invoke(main, ["md", "build", "*CCO*", "--out", str(tmp_path / "p"),
                                       "--json"])
    assert result.exit_code == 0, result.output
    built = json.loads(result.output)
    assert (built["protocol"], built["degree_of_polymerization"], built["chains"],
            built["ion_pairs"]) == ("paper", 51, 15, 50)
    assert built["units"]["box_A"] == "A" and built["units"]["molality_mol_per_kg"] == "mol/kg"
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    assert meta["protocol"] == "paper" and meta["protocol_settings"]["eqfactor"] == 1.0


def test_md_run_without_profile_uses_the_whole_recorded_profile(tmp_path):
    """Accelerator flags and all: a GPU run resumed without --profile stays a GPU run."""
    from polyhpc.md.meta import protocol_record, recorded_protocol
    from polyhpc.md.protocol import load_protocol
    from tests.conftest import ROOT

    gpu = load_protocol(ROOT / "workflows" / "md-gpu.yaml")
    (tmp_path / "meta.json").write_text(json.dumps(protocol_record(gpu)))
    assert recorded_protocol(tmp_path) == gpu and gpu.lmp_args


def _net_charge(system_lmp):
    lines = system_lmp.read_text().splitlines()
    start = lines.index("Atoms # full") + 2
    end = lines.index("", start)
    return sum(float(line.split()[3]) for line in lines[start:end])


def test_md_run_refuses_a_system_lmp_edited_since_its_build(tmp_path):
    """A Li charge raised from +0.7 to +5.8 (net +5.1): refused, nothing of LAMMPS runs."""
    from polyhpc.md.lammps import run_protocol
    from polyhpc.md.meta import RunFolderError, recorded_protocol

    out = tmp_path / "run"
    assert _build(out).exit_code == 0
    system = out / "system.lmp"
    assert abs(_net_charge(system)) < 1e-9
    lines = system.read_text().splitlines(keepends=True)
    li = next(i for i, line in enumerate(lines) if line.split()[2:4] == ["90", "0.700000"])
    lines[li] = lines[li].replace(" 0.700000 ", " 5.800000 ", 1)
    system.write_text("".join(lines))
    assert _net_charge(system) == pytest.approx(5.1)
    meta = (out / "meta.json").read_text()
    result = CliRunner().invoke(main, ["md", "run", str(out)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "system.lmp is not the file `polyhpc md build` wrote" in result.output
    assert f"`polyhpc md build '*CCO*' --out {out} --force` rebuilds it" in result.output
    with pytest.raises(RunFolderError, match="edited or replaced"):
        run_protocol(out, recorded_protocol(out), seed=1)
    assert not list(out.glob("eq01*")) and not (out / "records.json").exists()
    assert (out / "meta.json").read_text() == meta  # the build's sha256 is kept
    rebuilt = _build(out, "--force")
    assert rebuilt.exit_code == 0 and abs(_net_charge(system)) < 1e-9
