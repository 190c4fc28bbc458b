import dataclasses
import re
from pathlib import Path

import jinja2
import pytest

from polyhpc.errors import ConfigError
from polyhpc.md.lammps import protocol_jobs
from polyhpc.md.protocol import (
    box_average_window,
    equilibration_stages,
    load_protocol,
    render_input,
)
from polyhpc.md.settings import BuildSettings, Protocol

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
    # the reference: floor(eqfactor * ps * 1e3 / dt) steps per stage
    assert [s.steps for s in stages] == [0, 100_000, 200_000, 0, 250_000, 200_000, 300_000,
                                         200_000, 200_000, 150_000, 150_000, 400_000, 600_000,
                                         500_000]
    assert stages[1].timestep_fs == 0.5 and not stages[1].kspace
    assert stages[7].temperature_K == (353.0, 453.0)
    assert stages[12].average_window_steps == 250_000 and stages[12].average_skip_steps == 100_000
    text = render_input("production.in.j2", p, restart_file="r", seed=1, last_polymer_type=89)
    assert "run_style       respa 2 4" in text
    assert "run             2500000 upto" in text  # 5 ns at 2 fs
    assert "dump            traj all custom 1000 traj.lammpstrj id mol type mass q x y z ix iy iz" \
        in text
    assert "fix             prod all nvt temp 353.0 353.0 200.0" in text  # 100 steps of damping
    # as the reference: production continues the relaxed velocities, restarts every 50,000 steps
    assert "velocity" not in text
    assert "restart         50000 production.a.restart production.b.restart" in text
    equilibration = _equilibration_inputs(p, seed=1)
    assert "iso 1.0 4000.0 2000.0 drag 0 mtk yes" in equilibration  # 1000 steps barostat
    # every stage but the first starts from the previous stage's restart
    assert equilibration.count("read_restart") == 13
    assert "read_data       system.lmp" in equilibration
    assert "fix             boxavg all ave/time 1 249999 250000 v_cella start 100000" \
        in equilibration


def test_long_range_solver_is_off_only_in_the_half_femtosecond_stages():
    """The reference minimizes once with kspace on, then turns it off for 2-3, back for 4."""
    inputs = {name: render_input(t, _profile("paper"), seed=1, last_polymer_type=89,
                                 average_box_A=40.0, **c)
              for name, t, _, c in protocol_jobs(_profile("paper"))[:-1]}
    computes = {name: re.search(r"kspace_modify\s+compute (\w+)", text).group(1)
                for name, text in inputs.items()}
    assert computes == {f"eq{k:02d}": "no" if k in (2, 3) else "yes" for k in range(1, 15)}
    assert "minimize" in inputs["eq01"]


def test_step_counter_restarts_after_stage_4_only():
    """No reset before the stage-13 average: its windows count from the stage-4 reset."""
    inputs = _equilibration_inputs(_profile("paper"))
    stages = inputs.split("# ===== ")[1:]
    resets = [s.split(".in")[0] for s in stages if "reset_timestep" in s]
    assert resets == ["eq04"]
    eq04 = next(s for s in stages if s.startswith("eq04"))
    assert eq04.index("minimize") < eq04.index("reset_timestep") < eq04.index("write_restart")


def test_box_average_window_is_the_references_for_any_eqfactor():
    """The window LAMMPS averages in the reference, from its step arithmetic.

    The reference's counter is 3,700 ps x eqfactor past its reset when the 1,200 ps
    stage starts; outputs fall on multiples of nave = 500 ps, each averaging the
    nave - 1 steps before it; the last complete one ends at 4,500 ps.
    """
    paper = _profile("paper")
    assert box_average_window(paper) == (2_000_002, 2_250_000)  # 4,000-4,500 ps at 2 fs
    for eqfactor in (1.0, 0.5, 0.1, 0.01, 0.002):
        p = dataclasses.replace(paper, eqfactor=eqfactor)
        nave = int(500_000 * eqfactor / 2.0)
        start, end = box_average_window(p)
        assert (start, end) == (8 * nave + 2, 9 * nave), eqfactor
        stage_start = sum(s.steps for s in equilibration_stages(p)[4:12])
        assert stage_start == int(3_700_000 * eqfactor / 2.0)
        # 300-800 ps (x eqfactor) into the 1,200 ps stage
        assert (start - 2 - stage_start, end - stage_start) == (int(150_000 * eqfactor),
                                                                int(400_000 * eqfactor))
    assert box_average_window(_profile("smoke")) == (402, 450)


def test_gpu_profile_states_its_deviation_and_drops_respa():
    p = _profile("gpu")
    text = render_input("production.in.j2", p, restart_file="r", seed=1, last_polymer_type=89)
    assert "\nrun_style" not in text
    assert "timestep        1.0" in text and "run             5000000 upto" in text
    assert "# deviation from the paper protocol: Verlet at 1 fs" in text
    assert "dump            traj all custom 2000" in text  # still one frame per 2 ps


def test_profiles_are_explicit_about_their_deviations():
    assert _profile("paper").deviations and "fix deposit" in _profile("paper").deviations[0]
    smoke = _profile("smoke").deviations
    assert any("2e-4" in d for d in smoke) and any("2 LiTFSI pairs" in d for d in smoke)


def test_profiles_reject_unknown_keys_and_bad_values(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntimestep_fs: 9\n")
    with pytest.raises(ConfigError, match="timestep_fs: 9.0 is above the maximum 5.0"):
        load_protocol(bad)
    bad.write_text("name: x\ntemprature_K: 300\n")
    with pytest.raises(ConfigError, match="unknown key.*temprature_K"):
        load_protocol(bad)
    bad.write_text("name: x\nion_dcd: true\n")  # removed: ions.dcd could not be analyzed
    with pytest.raises(ConfigError, match="unknown key.*ion_dcd"):
        load_protocol(bad)
    bad.write_text("name: x\ndump_every_steps: 300\nrestart_every_steps: 1000\n")
    with pytest.raises(ConfigError, match="not a multiple of dump_every_steps"):
        load_protocol(bad)


def test_settings_refuse_out_of_range_values_however_they_are_made():
    with pytest.raises(ConfigError, match="chains: -1 is below the minimum 1"):
        BuildSettings(chains=-1)
    with pytest.raises(ConfigError, match="ion_pairs: 0 is below the minimum 1"):
        dataclasses.replace(BuildSettings(), ion_pairs=0)
    with pytest.raises(ConfigError, match="eqfactor"):
        Protocol(eqfactor=0.0)


def test_rendering_without_required_context_fails_loudly():
    with pytest.raises(jinja2.UndefinedError):
        render_input("production.in.j2", dataclasses.replace(_profile("smoke")), seed=1,
                     last_polymer_type=89)
