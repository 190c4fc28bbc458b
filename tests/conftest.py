import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Tests and CI read the reference data from ../shared/data (never copied in).
os.environ.setdefault("POLYHPC_DATA", str((ROOT.parent / "shared" / "data").resolve()))
DATA = Path(os.environ["POLYHPC_DATA"])
TRAJECTORY = DATA / "trajectories" / "htpmd-9-0-246295613-0"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not DATA.is_dir():
        pytest.fail(f"reference data folder {DATA} is missing (set POLYHPC_DATA)")
    return DATA


@pytest.fixture(scope="session")
def reference_trajectory(shared_data) -> Path:
    return TRAJECTORY


@pytest.fixture(scope="session")
def expected(reference_trajectory) -> dict:
    return json.loads((reference_trajectory / "expected.json").read_text())
