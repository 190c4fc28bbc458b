"""The feedback rule of the paper (section 3.4), with numbers."""

import numpy as np
import pandas as pd
import pytest

from polyhpc.campaign.feedback import extra_units, share_copies, winners
from polyhpc.data.htpmd import load_htpmd_train
from polyhpc.generate.dataset import TrainingSetConfig, build_training_set


def _agg(value, status="ok"):
    return {"objective_mean": value, "status": status}


def test_three_winners_and_peo_share_4000_copies():
    fed_back = [{"smiles": s, "canonical": s} for s in ("*CCO*", "*OCCOC*", "*COCC*", "*SCCOC*")]
    extras = extra_units(fed_back, 4000)
    assert [(e.smiles, e.copies, e.label) for e in extras] == [
        ("*CCO*", 1000, 1), ("*OCCOC*", 1000, 1), ("*COCC*", 1000, 1), ("*SCCOC*", 1000, 1)]
    assert sum(e.copies for e in extras) == 4000
    # an uneven split still totals 4,000; a polymer fed back twice is counted once
    assert [c for _, c in share_copies(["a", "b", "c"], 4000)] == [1334, 1333, 1333]
    assert len(extra_units(fed_back + fed_back[:1], 4000)) == 4


def test_only_candidates_above_the_reference_mean_win():
    candidates = [{"id": i, "smiles": f"u{i}"} for i in range(5)]
    aggregates = {0: _agg(2.0e-3), 1: _agg(1.0e-3), 2: _agg(1.5e-3), 3: _agg(None, "failed"),
                  4: _agg(9.0e-3, "failed")}
    picked = winners(candidates, aggregates, _agg(1.0e-3))
    assert [c["id"] for c in picked] == [0, 2]  # equal to PEO does not beat it; failed never
    assert winners(candidates, aggregates, _agg(None, "failed")) == []


def test_the_class_threshold_stays_fixed_when_winners_are_added():
    frame = load_htpmd_train()[["smiles", "conductivity_mS_per_cm"]]
    first = build_training_set(frame, TrainingSetConfig())
    assert first.threshold_mS_per_cm == pytest.approx(0.1253, abs=5e-5)
    fed_back = [{"smiles": s, "canonical": s} for s in ("*CCO*", "*OCCOC*", "*COCC*", "*SCCOC*")]
    # iteration 2: HTP-MD plus results far above every HTP-MD value, with the stored threshold
    enriched = pd.concat([frame, pd.DataFrame({"smiles": ["*OCCOC*", "*COCC*", "*SCCOC*"],
                                               "conductivity_mS_per_cm": [1.5, 1.4, 1.3]})])
    second = build_training_set(enriched, TrainingSetConfig(
        threshold_mS_per_cm=first.threshold_mS_per_cm, extra=extra_units(fed_back, 4000)))
    assert second.threshold_mS_per_cm == first.threshold_mS_per_cm
    # a recomputed 95th percentile would have moved; the fixed one labels HTP-MD as before
    values = frame["conductivity_mS_per_cm"].to_numpy()
    assert np.sum(values >= second.threshold_mS_per_cm) == 302
    assert second.summary["extra_copies"] == {"*CCO*": 1000, "*OCCOC*": 1000, "*COCC*": 1000,
                                              "*SCCOC*": 1000}


def test_a_winner_needs_its_minimum_of_finished_replicas():
    from polyhpc.campaign.config import load_campaign_config
    from polyhpc.campaign.evaluate import aggregate

    def results(*values):
        return [{"objective": v, "properties": {"conductivity": v}} for v in values]

    reference = aggregate(results(1.0e-3, 1.1e-3, 1.2e-3, 1.0e-3, 1.1e-3), 5, "conductivity", 3)
    one = aggregate(results(5e-3), 5, "conductivity", 3)  # far above, but 1 replica of 5
    three = aggregate(results(1.5e-3, 1.6e-3, 1.4e-3), 5, "conductivity", 3)
    assert one["status"] == "incomplete" and three["status"] == "ok"
    rows = [{"id": 1}, {"id": 2}]
    assert [w["id"] for w in winners(rows, {1: one, 2: three}, reference)] == [2]
    # the paper's campaign asks for all five; a smaller plan defaults to at least three
    paper = load_campaign_config("paper").md
    assert paper.min_replicas == 5 and paper.required_replicas(5) == 5
    assert load_campaign_config({}).md.required_replicas(5) == 3
    assert load_campaign_config({}).md.required_replicas(2) == 2


def test_probability_above_the_reference_is_welchs_t():
    from scipy import stats

    from polyhpc.campaign.report import probability_above

    a = [1.5e-3, 1.3e-3, 1.7e-3, 1.2e-3, 1.6e-3]
    b = [1.1e-3, 1.2e-3, 1.15e-3, 1.25e-3, 1.05e-3]
    p, method = probability_above({"replicas": a}, {"replicas": b}, "md")
    # the one-sided Welch test's p-value is P(no difference or worse): 1 - P(above)
    expected = stats.ttest_ind(a, b, equal_var=False, alternative="greater").pvalue
    assert method == "Welch t" and p == pytest.approx(1 - expected, rel=1e-9)
