import dataclasses
import json
import math
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
from polyhpc.resources import shipped

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


@pytest.mark.parametrize("name", ["smoke", "paper"])
def test_inputs_match_the_golden_files(name):
    """The paper golden files were rendered before damping moved from steps to fs."""
    p = _profile(name)
    assert _equilibration_inputs(p) == (GOLDEN / f"equilibration-{name}.in").read_text()
    assert render_input("production.in.j2", p, restart_file="relaxed.restart", seed=7,
                        last_polymer_type=89) == (GOLDEN / f"production-{name}.in").read_text()


def _damping(text):
    """(dt, Tdamp, Pdamp or None) of every fix nvt/npt of the rendered inputs, in order."""
    found, dt = [], None
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["timestep"]:
            dt = float(words[1])
        if len(words) > 3 and words[0] == "fix" and words[3] in ("nvt", "npt"):
            tdamp = float(words[words.index("temp") + 3])
            pdamp = float(words[words.index("iso") + 3]) if "iso" in words else None
            found.append((dt, tdamp, pdamp))
    return found


# The reference input (TRI-AMDD/PolyGen Example-simulation-files/equilibration.in): "variable
# tdamp equal floor(100*dt)" and "variable pdamp equal floor(1000*dt)", equal-style, so each
# ${tdamp} is evaluated at the time step of the fix that uses it: its 2 fs, and 0.5 fs in
# stages 2-3.
def _reference_damping(dt_fs):
    return math.floor(100 * dt_fs), math.floor(1000 * dt_fs)


@pytest.mark.parametrize("name", ["gpu", "gpu-package", "paper", "smoke"])
def test_every_profile_damps_as_the_reference_does_at_its_time_steps(name):
    """Tdamp 200 fs / Pdamp 2000 fs (50 / 500 fs in the 0.5 fs stages), whatever the step."""
    p = _profile(name)
    inputs = _equilibration_inputs(p) + render_input(
        "production.in.j2", p, restart_file="r", seed=1, last_polymer_type=89) + render_input(
        "benchmark.in.j2", p, data_file="system.lmp", steps=100, seed=1)
    damping = _damping(inputs)
    assert len(damping) == 12 + 1 + 1  # 12 MD stages, production, benchmark
    reference_dt = {p.timestep_fs: 2.0, p.initial_timestep_fs: 0.5}
    for dt, tdamp, pdamp in damping:
        tref, pref = _reference_damping(reference_dt[dt])
        assert tdamp == tref, (name, dt)
        assert pdamp in (None, pref), (name, dt)
    if name == "gpu":  # 1 fs: 200 and 2000 steps, as long as the reference's 100 and 1000
        assert p.timestep_fs == 1.0
        assert (1.0, 200.0, 2000.0) in damping and (1.0, 200.0, None) in damping
        assert (0.5, 50.0, 500.0) in damping


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
    assert "fix             prod all nvt temp 353.0 353.0 200.0" in text  # 200 fs, 200 steps
    # what still differs from the reference is declared: the damping in steps, nreset
    assert any("200 and 2000 steps of 1 fs" in d for d in p.deviations)
    assert any("nreset" in d for d in p.deviations)


def test_a_folder_run_with_damping_in_steps_continues_when_the_times_are_the_same(tmp_path):
    """meta.json of older runs records thermostat_damp_steps; the paper's numbers are unchanged,
    the 1 fs GPU profile's are not (100 steps of 1 fs was 100 fs, now 200 fs)."""
    from polyhpc.config import to_dict
    from polyhpc.md.meta import RunFolderError, prepare_run, recorded_protocol

    def old_record(p):
        settings = to_dict(p)
        for kind, steps in (("thermostat", 100), ("barostat", 1000)):
            del settings[f"{kind}_damp_fs"], settings[f"initial_{kind}_damp_fs"]
            settings[f"{kind}_damp_steps"] = steps
        return {"protocol": p.name, "protocol_settings": settings, "protocol_sha256": "0" * 64}

    for name in ("paper", "gpu"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "meta.json").write_text(json.dumps(old_record(_profile(name))))
        if name == "paper":
            assert recorded_protocol(folder) == _profile("paper")
            prepare_run(folder, _profile("paper"), 1, {})
            continue
        assert recorded_protocol(folder).thermostat_damp_fs == 100.0  # what it ran with
        with pytest.raises(RunFolderError, match="thermostat_damp_fs 100.0 -> 200.0"):
            prepare_run(folder, _profile("gpu"), 1, {})


def test_profiles_are_explicit_about_their_deviations():
    assert _profile("paper").deviations and "fix deposit" in _profile("paper").deviations[0]
    smoke = _profile("smoke").deviations
    assert any("2e-4" in d for d in smoke) and any("2 LiTFSI pairs" in d for d in smoke)
    for name in shipped("md"):  # every profile builds its systems the same way
        assert any("ions are inserted at build time" in d for d in _profile(name).deviations), \
            name


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
