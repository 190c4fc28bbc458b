"""campaign plan: the paper campaign's MD work and resources, as closed forms."""

import json
import math

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


def test_blocks_only_for_batch_sites_and_parallel_runs_from_the_site(tmp_path):
    plan = _plan("paper", "--rate", "25", "--gpus", "8")
    assert plan["site"] == "local" and plan["blocks"] is None and plan["walltime"] is None
    text = CliRunner().invoke(main, ["campaign", "plan", "paper", "--rate", "25", "--gpus",
                                     "8"]).output
    assert "(local site: no batch blocks)" in text and "SLURM blocks" not in text
    laptop = _plan("laptop", "--rate", "100")
    assert laptop["parallel_runs"] == 2  # the laptop config's max_workers, not 128 cores
    site = tmp_path / "site.yaml"
    site.write_text("kind: slurm-gpu\nwalltime: '24:00:00'\ngpus_per_node: 4\n"
                    "walltime_margin_s: 600\n")
    gpu = _plan("paper", "--rate", "25", "--gpus", "32", "--runs-per-gpu", "4",
                "--site", str(site))
    # 128 runs at a time: ceil(255/128) + ceil(250/128) = 4 waves of 10.6 h, 0.25 h training
    hours = 11.05 / 25 * 24
    assert gpu["wall_hours"] == pytest.approx(4 * hours + 0.5)
    usable = 24 - 600 / 3600
    assert gpu["sequential_blocks"] == math.ceil(gpu["wall_hours"] / usable)
    assert gpu["blocks"] == gpu["sequential_blocks"] * 8  # 32 GPUs on 4-GPU nodes


def test_adaptive_md_is_planned_as_a_stated_fraction_of_the_fixed_protocol(tmp_path):
    plan = _plan("paper-adaptive", "--rate", "25", "--gpus", "32")
    assert plan["md_fraction"] == 0.49 and plan["md_ns_fixed_protocol"] == pytest.approx(
        505 * 11.05)
    assert plan["md_ns_total"] == pytest.approx(0.49 * 505 * 11.05)
    assert "stated prior" in plan["assumptions"][0]
    replay = tmp_path / "replay.json"
    replay.write_text(json.dumps({"adaptive": {"md_fraction": 0.6}}))
    assert _plan("paper-adaptive", "--rate", "25", "--replay", str(replay))["md_fraction"] == 0.6
