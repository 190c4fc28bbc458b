"""One equilibrated smoke replica, shared by the tests that need a finished equilibration."""

import dataclasses

import pytest

from polyhpc.md.protocol import load_protocol
from tests.conftest import ROOT

# smoke stages, every step logged; 4 ps of production (2,000 steps), a restart every 200
SMOKE_EVERY_STEP = dataclasses.replace(load_protocol(ROOT / "workflows" / "md-smoke.yaml"),
                                       thermo_every_steps=1, production_ps=4.0,
                                       restart_every_steps=200)


@pytest.fixture(scope="session")
def equilibrated(tmp_path_factory):
    """A tiny PEO/LiTFSI replica (316 atoms) through all 14 stages and production."""
    from polyhpc.md.lammps import evaluate

    folder = tmp_path_factory.mktemp("peo") / "rep0"
    outcome = evaluate("*CCO*", folder, SMOKE_EVERY_STEP, seed=5, replica=0, threads=1)
    assert outcome["status"] == "finished", outcome
    return folder
