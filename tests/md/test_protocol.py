import dataclasses
from pathlib import Path

import jinja2
import pytest

from polyhpc.errors import ConfigError
from polyhpc.md.lammps import protocol_jobs
from polyhpc.md.protocol import equilibration_stages, load_protocol, render_input

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"


def _profile(name):
    return load_protocol(ROOT / "workflows" / f"md-{name}.yaml")


def _equilibration_inputs(p, seed=1000, average_box_A=40.0):
    """The 14 stage inputs of run_protocol, concatenated with their names."""
    return "".join(
        f"# ===== {name}.in =====\n" + render_input(template, p, seed=seed, last_polymer_type=89,
                                                    average_box_A=average_box_A, **context)
        for name, template, _, context in protocol_jobs(p)[:-1])


def test_smoke_inputs_match_the_golden_files():
    p = _profile("smoke")
    assert _equilibration_inputs(p) == (GOLDEN / "equilibration-smoke.in").read_text()
    assert render_input("production.in.j2", p, restart_file="relaxed.restart", seed=7,
                        last_polymer_type=89) == (GOLDEN / "production-smoke.in").read_text()


def test_paper_profile_is_the_htpmd_protocol():
    p = _profile("paper")
    stages = equilibration_stages(p)
    assert [s.kind for s in stages] == ["minimize", "nvt", "npt", "minimize"] + ["npt"] * 7 + [
        "nvt", "npt", "nvt"]
    assert sum(s.duration_ps for s in stages) == pytest.approx(6050.0)
    assert stages[1].timestep_fs == 0.5 and not stages[1].kspace
    assert stages[7].temperature_K == (353.0, 453.0)
    assert stages[12].average_window_steps == 250_000 and stages[12].average_skip_steps == 100_000
    text = render_input("production.in.j2", p, restart_file="r", seed=1, last_polymer_type=89)
    assert "run_style       respa 2 4" in text
    assert "run             2500000" in text  # 5 ns at 2 fs
    assert "dump            traj all custom 1000 traj.lammpstrj id mol type mass q x y z ix iy iz" \
        in text
    assert "fix             prod all nvt temp 353.0 353.0 200.0" in text  # 100 steps of damping
    equilibration = _equilibration_inputs(p, seed=1)
    assert "iso 1.0 4000.0 2000.0 drag 0 mtk yes" in equilibration  # 1000 steps barostat
    # every stage but the first starts from the previous stage's restart
    assert equilibration.count("read_restart") == 13
    assert "read_data       system.lmp" in equilibration
    assert "fix             boxavg all ave/time 1 249999 250000 v_cella start 100000" \
        in equilibration


def test_gpu_profile_states_its_deviation_and_drops_respa():
    p = _profile("gpu")
    text = render_input("production.in.j2", p, restart_file="r", seed=1, last_polymer_type=89)
    assert "\nrun_style" not in text
    assert "timestep        1.0" in text and "run             5000000" in text
    assert "# deviation from the paper protocol: Verlet at 1 fs" in text
    assert "dump            traj all custom 2000" in text  # still one frame per 2 ps


def test_profiles_reject_unknown_keys_and_bad_values(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntimestep_fs: 9\n")
    with pytest.raises(ConfigError, match="timestep_fs: 9.0 is above the maximum 5.0"):
        load_protocol(bad)
    bad.write_text("name: x\ntemprature_K: 300\n")
    with pytest.raises(ConfigError, match="unknown key.*temprature_K"):
        load_protocol(bad)


def test_rendering_without_required_context_fails_loudly():
    with pytest.raises(jinja2.UndefinedError):
        render_input("production.in.j2", dataclasses.replace(_profile("smoke")), seed=1,
                     last_polymer_type=89)
