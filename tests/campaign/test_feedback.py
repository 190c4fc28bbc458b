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
