"""Replica racing on synthetic replicas whose truth is set: error rate, power, replay, input.

The truth: a candidate's log10 conductivity mean against the reference's. A "below"
decision for a candidate that is not below, or an "above" for one that is not above, is a
wrong early decision; over many races their rate stays under the configured error rate.
"""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from polyhpc.campaign import racing
from polyhpc.campaign.replay import Design, _draw
from polyhpc.cli import main

CV = 0.15  # relative replica spread (the paper's winners: 3-21 %, pooled 14 %)
S = math.sqrt(math.log(1 + CV**2)) / math.log(10)  # the same spread on the log10 scale
DESIGN = Design(replicas=5, min_replicas=3, production_ps=5000.0, equilibration_ps=6050.0)


def _races(policy, gap_log10, n, seed, bias=1.0):
    """``n`` races of a candidate ``gap_log10`` above the reference (log10 units)."""
    rng, paths = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    cv = CV
    out = []
    for _ in range(n):
        reference = [r.final for r in _draw(rng, paths, 1e-3, cv, 5, policy, DESIGN)]
        candidate = _draw(rng, paths, 1e-3 * 10**gap_log10, cv, 5, policy, DESIGN)
        if bias != 1.0:  # partial values biased upwards, as sub-diffusive ions make them
            candidate = [racing.ReplicaValues(r.final, {p: v * bias for p, v in r.partial.items()})
                         for r in candidate]
        # the spread pooled over a campaign's 60 degrees of freedom, estimated, not known
        pool = racing.Pool(S**2 * rng.chisquare(60) / 60, 60.0)
        out.append(racing.race_candidate(candidate, reference, pool, policy, 5, 5000.0, 3))
    return out


@pytest.mark.parametrize("error_rate, decide", [(0.05, ("below",)), (0.1, ("below",)),
                                                (0.1, ("below", "above"))])
def test_wrong_early_decisions_stay_under_the_configured_error_rate(error_rate, decide):
    policy = racing.AdaptiveConfig(first_round=1, error_rate=error_rate, decide=decide)
    n = 3000
    # a candidate exactly as good as the reference: every early decision is wrong
    races = _races(policy, 0.0, n, seed=1)
    wrong = sum(r.outcome in ("below", "above") for r in races) / n
    margin = 3 * math.sqrt(error_rate * (1 - error_rate) / n)
    assert wrong <= error_rate + margin
    # and it is not a rule that never fires: a third of the reference's conductivity is
    # found below in nearly every race, most after its first replica
    low = _races(policy, math.log10(1 / 3), 500, seed=2)
    assert sum(r.outcome == "below" for r in low) / 500 > 0.95
    assert np.mean([r.started for r in low]) < 1.5


def test_partial_values_biased_upwards_only_make_below_decisions_rarer():
    policy = racing.AdaptiveConfig(first_round=1, error_rate=0.1)
    unbiased = _races(policy, -0.1, 1000, seed=3)
    biased = _races(policy, -0.1, 1000, seed=3, bias=1.3)
    early = [sum(r.outcome == "below" and r.decisions[-1].production_ps < 5000 for r in rs)
             for rs in (unbiased, biased)]
    assert early[1] < early[0]


def test_the_stop_rule_never_fires_where_the_study_says_it_must_not():
    policy = racing.AdaptiveConfig(first_round=1, error_rate=0.1, decide=("below", "above"),
                                   check_every_ps=500.0, min_production_ps=2000.0)
    # no look before min_production_ps: a partial value from less production is never used
    assert racing.checkpoints_ps(policy, 5000.0) == [2000.0, 2500.0, 3000.0, 3500.0, 4000.0,
                                                      4500.0, 5000.0]
    pool = racing.Pool(S**2, 60.0)
    reference = [1e-3, 1.1e-3, 0.9e-3, 1.05e-3, 0.95e-3]
    # partial values far above the reference never stop a candidate as above (they are
    # biased upwards): only finished replicas can, and only with min_replicas of them
    partial = racing.decide([2e-3, 2e-3, 2e-3], [3e-3], 2000.0, reference, pool, policy, 5,
                            5000.0, 3)
    assert partial.outcome == "continue"
    assert racing.decide([2e-3, 2e-3], [], 5000.0, reference, pool, policy, 5, 5000.0,
                         3).outcome == "continue"
    assert racing.decide([2e-3, 2e-3, 2e-3], [], 5000.0, reference, pool, policy, 5, 5000.0,
                         3).outcome == "above"
    # and far below at 2 ns of one replica: stopped, the bound above its estimate
    below = racing.decide([], [1e-4], 2000.0, reference, pool, policy, 5, 5000.0, 3)
    assert below.outcome == "below" and below.bound_log10 < below.reference_log10


def test_a_single_look_race_is_students_t_at_the_error_rate():
    from scipy import stats

    policy = racing.AdaptiveConfig(first_round=1, error_rate=0.05, check_every_ps=5000.0,
                                   min_production_ps=5000.0)
    # two replicas at most, one look that can stop (after the first): the plain t quantile
    bounds = racing.boundaries(policy, 2, 5000.0, 2, 40.0, 5)
    assert bounds["below"] == pytest.approx(stats.t.ppf(0.95, 40), abs=0.03)


def _replay(*args):
    return CliRunner().invoke(main, ["campaign", "replay", *args])


@pytest.mark.slow
def test_replay_on_the_papers_numbers_halves_the_md_and_finds_the_same_winners(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analysis" / "adaptive"))
    import paper_campaign

    table = paper_campaign.write_table(tmp_path / "paper-means.csv")
    result = _replay("--means", str(table), "--reference-mean", "1.15e-3", "--replica-cv",
                     f"{paper_campaign.pooled_winner_cv():.4f}", "--seeds", "40", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["true_winners"] == 14 and report["candidates"] == 100
    assert report["adaptive"]["md_fraction"] <= 0.5
    assert report["fixed"]["md_fraction"] == 1.0
    assert abs(report["adaptive"]["winners_found"] - report["fixed"]["winners_found"]) <= 0.5
    assert report["policy"]["first_round"] == 1 and report["units"]["md_fraction"] == "1"


def test_replay_refuses_bad_input_with_one_line(tmp_path):
    good = tmp_path / "means.csv"
    good.write_text("smiles,conductivity_s_per_cm\n*CCO*,1e-3\n*CCOC*,5e-4\n")
    cases = [
        (["--means", str(good)], "--means needs --reference-mean"),
        ([str(tmp_path)], "holds no campaign ledger"),
        (["--means", str(good), str(tmp_path)], "one of them"),
    ]
    missing = tmp_path / "missing.csv"
    missing.write_text("smiles,mean\n*CCO*,1e-3\n")
    cases.append((["--means", str(missing), "--reference-mean", "1e-3"],
                  "needs the columns smiles and conductivity_s_per_cm"))
    other_unit = tmp_path / "ms.csv"
    other_unit.write_text("smiles,conductivity_mS_per_cm\n*CCO*,1.1\n")
    cases.append((["--means", str(other_unit), "--reference-mean", "1e-3"],
                  "found conductivity_mS_per_cm: give S/cm"))
    big = tmp_path / "big.csv"
    big.write_text("smiles,conductivity_s_per_cm\n*CCO*,1.1\n")
    cases.append((["--means", str(big), "--reference-mean", "1e-3"], "mS/cm given as S/cm"))
    for rate in ("0.6", "0"):
        policy = tmp_path / f"policy-{rate}.yaml"
        policy.write_text(f"error_rate: {rate}\n")
        cases.append((["--means", str(good), "--reference-mean", "1e-3", "--policy",
                       str(policy)], "md.adaptive.error_rate:"))
    big_round = tmp_path / "round.yaml"
    big_round.write_text("md: {replicas: 5, adaptive: {first_round: 6}}\n")
    cases.append((["--means", str(good), "--reference-mean", "1e-3", "--policy",
                   str(big_round)], "first_round 6 is more than the 5 replicas"))
    for args, message in cases:
        result = _replay(*args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, (args, result.output)
        assert "Traceback" not in result.output


def test_a_campaign_config_refuses_an_adaptive_round_larger_than_its_replicas():
    from polyhpc.campaign.config import load_campaign_config
    from polyhpc.errors import ConfigError

    with pytest.raises(ConfigError, match="md.adaptive.first_round: 6 is more than the 5"):
        load_campaign_config({"md": {"replicas": 5, "adaptive": {"first_round": 6}}})
    with pytest.raises(ConfigError, match=r"md.adaptive.error_rate: 0.5 must be below 0.5"):
        load_campaign_config({"md": {"adaptive": {"error_rate": 0.5}}})
