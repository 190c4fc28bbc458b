"""campaign plan: the paper campaign's MD work and resources, as closed forms."""

import json

import pytest
from click.testing import CliRunner

from polyhpc.cli import main


def _plan(*args):
    result = CliRunner().invoke(main, ["campaign", "plan", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_paper_campaign_is_505_replica_runs_of_11_ns():
    plan = _plan("paper", "--rate", "25", "--gpus", "8", "--runs-per-gpu", "4")
    # 2 iterations x 50 candidates x 5 replicas, plus PEO's 5 replicas in iteration 1
    assert plan["replica_runs_per_iteration"] == [255, 250]
    # equilibration 50+100+500+400+600+400+400+300+300+800+1200+1000 ps, production 5 ns
    assert plan["equilibration_ns"] == pytest.approx(6.05)
    assert plan["md_ns_total"] == pytest.approx(505 * 11.05)
    hours = 11.05 / 25 * 24
    assert plan["hours_per_replica"] == pytest.approx(hours)
    assert plan["resource_hours"] == pytest.approx(505 * hours / 4)  # GPU-hours, 4 per GPU
    # 32 runs at a time: ceil(255/32) + ceil(250/32) = 16 waves, plus 0.25 h training each
    assert plan["wall_hours"] == pytest.approx(16 * hours + 0.5)


def test_the_rate_comes_from_the_report_bench_md_writes(tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"polyhpc": {"ns_per_day": 4.67}}))
    plan = _plan("paper", "--rate", str(report))
    assert plan["ns_per_day_per_run"] == 4.67 and plan["resource_unit"] == "core-hours"
    # 8 OpenMP threads per replica (md.threads of the paper config)
    assert plan["resource_hours"] == pytest.approx(505 * 11.05 / 4.67 * 24 * 8)
    missing = CliRunner().invoke(main, ["campaign", "plan", "paper", "--rate",
                                        str(tmp_path / "none.json")])
    assert missing.exit_code == 2 and "run `polyhpc bench md`" in missing.output
