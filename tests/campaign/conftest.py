import pytest

from polyhpc.campaign.config import load_campaign_config


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
