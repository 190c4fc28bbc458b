import pytest

from polyhpc.campaign.config import load_campaign_config


def ledger_results(folder, iterations=None):
    """Every per-replica result of a campaign, keyed by what it is (not by row ids)."""
    from polyhpc.campaign.store import Ledger

    ledger = Ledger.open(folder, readonly=True)
    rows = {}
    for r in ledger.results():
        c = ledger.candidate(r["candidate_id"])
        if iterations is not None and c["iteration"] not in iterations:
            continue
        rows[(c["iteration"], c["role"], c["canonical"], r["source"], r["replica"])] = (
            r["properties"].get("conductivity"), r["properties"].get("li_diffusivity"),
            r["objective"])
    ledger.close()
    return rows


@pytest.fixture(scope="session")
def smoke_campaign(tmp_path_factory):
    """The shipped smoke campaign, run once, uninterrupted, in this process."""
    from polyhpc.campaign.loop import Campaign

    folder = tmp_path_factory.mktemp("campaign") / "smoke"
    run = Campaign(load_campaign_config("smoke"), folder)
    status = run.run()
    run.ledger.close()
    assert status == "finished"
    return folder


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A real single-node SLURM (slurm-wlm + munge) for the session; SLURM_CONF is set."""
    import os

    from tests.slurm_cluster import SlurmCluster, slurm_available

    why = slurm_available()
    if why is not None:
        if os.environ.get("POLYHPC_REQUIRE_SLURM"):  # .ci/run: a missing SLURM is a failure
            pytest.fail(f"no SLURM for the slurm tests: {why}")
        pytest.skip(why)
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm")).start()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    yield cluster
    cluster.stop()
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous
