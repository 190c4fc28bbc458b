"""``polyhpc bench md --compare-ff``: one system, two force fields, through real LAMMPS."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from polyhpc.cli import main

pytestmark = [pytest.mark.lammps, pytest.mark.slow]


def _atoms(path):
    lines = path.read_text().splitlines()
    start = lines.index("Atoms # full") + 2
    end = lines.index("", start)
    return np.array([[float(v) for v in line.split()[3:7]] for line in lines[start:end]])


def test_compare_ff_equilibrates_the_same_system_with_both_force_fields(tmp_path):
    result = CliRunner().invoke(main, ["bench", "md", "--compare-ff", "--profile", "smoke",
                                       "--eqfactor", "0.0002", "--threads", "1",
                                       "--workdir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    runs = report["runs"]
    assert report["units"]["density_g_cm3"] == "g/cm^3" and report["units"]["wall_s"] == "s"
    assert set(runs) == {"pcff", "pcff+"} and all(r["ok"] for r in runs.values())
    for r in runs.values():
        assert 0.2 < r["density_g_cm3"] < 0.4  # smoke: barely compressed from 0.28
        assert r["system"]["chains"] == 4 and r["system"]["ion_pairs"] == 2
    public, plus = (_atoms(tmp_path / name / "system.lmp") for name in ("pcff", "pcffplus"))
    assert np.array_equal(public[:, 1:], plus[:, 1:])  # same coordinates
    assert not np.array_equal(public[:, 0], plus[:, 0])  # other charges
    meta = json.loads((tmp_path / "pcffplus" / "meta.json").read_text())
    assert meta["force_field"] == "user force field (htpmd-peo-pcffplus.frc)"
    assert any("eqfactor 0.0002" in d for d in meta["deviations"])
