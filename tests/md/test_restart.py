"""Restart files and dumps of a production that continues after an interruption."""

import re
import shutil
import subprocess

import pytest

from polyhpc.md.restart import (
    RestartError,
    latest_restart,
    restart_complete,
    restart_timestep,
    truncate_dump,
)
from polyhpc.md.runner import find_lmp, lammps_environment

RESTART = "lammps/htpmd-peo-litfsi-protocol/production/relaxed.restart"


@pytest.mark.lammps
def test_restart_timestep_is_what_lammps_reads_from_the_file(shared_data, tmp_path):
    path = shared_data / RESTART
    done = subprocess.run([str(find_lmp()), "-restart2info", str(path), "-log", "none"],
                          capture_output=True, text=True, env=lammps_environment(1),
                          cwd=tmp_path)
    lammps_says = int(re.search(r"Current timestep number = (\d+)", done.stdout).group(1))
    assert restart_timestep(path) == lammps_says == 2_950_000
    assert restart_complete(path)


def test_a_restart_cut_off_while_being_written_is_not_used(shared_data, tmp_path):
    whole = tmp_path / "production.a.restart"
    shutil.copy(shared_data / RESTART, whole)
    cut = tmp_path / "production.b.restart"
    cut.write_bytes(whole.read_bytes()[:100_000])
    assert restart_complete(whole) and not restart_complete(cut)
    assert restart_timestep(cut) == 2_950_000  # its header is intact, its end is not
    assert latest_restart(tmp_path) == ("production.a.restart", 2_950_000)
    (tmp_path / "production.timeout.restart").write_bytes(b"garbage")
    assert latest_restart(tmp_path) == ("production.a.restart", 2_950_000)
    whole.unlink()
    assert latest_restart(tmp_path) is None
    with pytest.raises(RestartError, match="not a LAMMPS restart"):
        restart_timestep(tmp_path / "production.timeout.restart")


def _dump(steps, atoms=2, last_partial=False):
    frames = []
    for k, step in enumerate(steps):
        rows = [f"{i + 1} 1 1 1.0 0.0 {step}.0 0.0 0.0 0 0 0" for i in range(atoms)]
        if last_partial and k == len(steps) - 1:
            rows = rows[:1]
        frames.append(f"ITEM: TIMESTEP\n{step}\nITEM: NUMBER OF ATOMS\n{atoms}\n"
                      "ITEM: BOX BOUNDS pp pp pp\n0 10\n0 10\n0 10\n"
                      "ITEM: ATOMS id mol type mass q x y z ix iy iz\n" + "\n".join(rows) + "\n")
    return frames


def test_dump_is_cut_before_the_restart_step_frame_by_frame(tmp_path):
    frames = _dump([0, 100, 200, 300, 400], last_partial=True)
    path = tmp_path / "traj.lammpstrj"
    path.write_text("".join(frames))
    assert truncate_dump(path, 300) == [0, 100, 200]
    assert path.read_text() == "".join(frames[:3])  # byte for byte, the partial frame gone
    assert truncate_dump(path, 1000) == [0, 100, 200]
    assert path.read_text() == "".join(frames[:3])
    assert truncate_dump(tmp_path / "missing.lammpstrj", 100) == []
    path.write_text("".join(_dump([0, 200, 100])))
    with pytest.raises(RestartError, match="not increasing"):
        truncate_dump(path, 100)


def test_a_dump_missing_frames_before_the_restart_starts_production_over(shared_data,
                                                                          tmp_path):
    from polyhpc.md.lammps import _continue_production
    from polyhpc.md.settings import Protocol

    shutil.copy(shared_data / RESTART, tmp_path / "production.a.restart")  # step 2,950,000
    (tmp_path / "traj.lammpstrj").write_text("".join(_dump([0, 1000])))  # frames were lost
    (tmp_path / "production.part1.log").write_text("an earlier segment")
    assert _continue_production(tmp_path, Protocol()) is None
    assert not any(tmp_path.iterdir())  # a fresh production from relaxed.restart, no mix
