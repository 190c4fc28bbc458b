"""The report of a campaign whose MD gives results, built from a ledger with set numbers.

Checked against closed forms and the numbers put in: the banner's force-field and charge
statements, the winners' standard error and P(above the reference) (Welch's t), the
rules for means and minima, and that user text cannot break the Markdown or the HTML.
"""

import math

import numpy as np
import pytest
from scipy import stats

from polyhpc.campaign.config import load_campaign_config, resolved_identity
from polyhpc.campaign.evaluate import aggregate
from polyhpc.campaign.report import write_report
from polyhpc.campaign.store import Ledger
from polyhpc.config import to_dict

REFERENCE = [1.10e-3, 1.20e-3, 1.15e-3, 1.05e-3, 1.25e-3]
WINNER = [1.60e-3, 1.45e-3, 1.50e-3, 1.70e-3, 1.55e-3]
LOSER = [0.0, 0.0, 0.0, 0.0, 0.0]  # polyethylene: no ion moved
MIDDLE = [0.80e-3, 0.90e-3, 0.85e-3, 0.75e-3, 0.95e-3]


def _ledger(tmp_path, name="paper <script>alert(1)</script> | x"):
    config = load_campaign_config("paper")
    identity = {**to_dict(config), **resolved_identity(config)}
    ledger = Ledger.create(tmp_path / "c", {"config": {**to_dict(config), "name": name},
                                            "identity": identity, "config_hash": "0" * 64,
                                            "versions": {"polyhpc": "test"}})
    ledger.set_meta("training_set", {"conductivity_S_per_cm": [5e-5, 1e-4, 6e-5]})
    ledger.set_iteration(1)
    ledger.record_sampling(1, [{"smiles": "*OCCOC*", "canonical": "*CCOCO*"},
                               {"smiles": "*CC*", "canonical": "*CC*"},
                               {"smiles": "*CCCO*", "canonical": "*CCCO*"}],
                           draws=10, accepted=3, rejected={"in training set (same polymer)": 2,
                                                           "too long": 5})
    ref_id = ledger.add_reference(1, "*CCO*", "*CCO*")
    ids = [c["id"] for c in ledger.candidates(1, "candidate")]
    task = 0
    for cid, values in ((ref_id, REFERENCE), (ids[0], WINNER), (ids[1], LOSER),
                        (ids[2], MIDDLE)):
        rows = []
        for k, v in enumerate(values):
            task += 1
            ledger.record_result(task, cid, k, "md", {"conductivity": v, "units":
                                                      {"conductivity": "S/cm"}}, v, {})
            rows.append({"objective": v, "properties": {"conductivity": v}})
        ledger.set_aggregate(cid, "md", aggregate(rows, 5, "conductivity", 5))
    ledger.record_feedback(1, [{"candidate_id": ids[0], "smiles": "*OCCOC*",
                                "canonical": "*CCOCO*", "source": "md",
                                "objective_mean": float(np.mean(WINNER)), "role": "winner"}])
    ledger.set_iteration(1, status="done")
    return ledger


def test_an_md_campaigns_report_says_its_force_field_and_charges_and_tests_its_winners(
        tmp_path):
    ledger = _ledger(tmp_path)
    report = write_report(ledger, tmp_path / "out")
    banner = " ".join(report["banner"])
    assert banner.startswith("Results: MD with the profile 'paper' (5 ns of production")
    assert "force field public PCFF (pcff.frc)" in banner
    assert "the training data (HTP-MD) used PCFF+, so every comparison with the training " \
           "set crosses force fields" in banner
    assert "they would be 0.49x lower" in banner  # 0.7 squared
    [winner] = report["winners"]
    assert winner["smiles"] == "*OCCOC*" and winner["n"] == 5
    assert winner["mean"] == pytest.approx(np.mean(WINNER) * 1e3)
    assert winner["se"] == pytest.approx(np.std(WINNER, ddof=1) / math.sqrt(5) * 1e3)
    welch = stats.ttest_ind(WINNER, REFERENCE, equal_var=False, alternative="greater")
    assert winner["p_above_reference"] == pytest.approx(1 - welch.pvalue, rel=1e-9)
    [row] = report["iterations"]
    # means over every evaluated candidate, zeros included; the minimum over positive ones
    assert row["mean_mS_per_cm"] == pytest.approx(np.mean([np.mean(WINNER), 0.0,
                                                           np.mean(MIDDLE)]) * 1e3)
    assert row["min_mS_per_cm"] == pytest.approx(np.mean(MIDDLE) * 1e3) and row["zeros"] == 1
    assert row["duplicates"] == 2 and row["rejected_draws"] == 7
    assert report["reference"]["mean_mS_per_cm"] == pytest.approx(np.mean(REFERENCE) * 1e3)
    assert report["units"]["mean_mS_per_cm"] == "mS/cm"
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "mean / training mean (crosses force fields)" in markdown
    assert "(+1 at 0)" in markdown  # the zero is counted beside the minimum
    assert "The campaign's declared deviations from the paper: force field: the public PCFF" \
        in markdown


def test_user_text_cannot_break_the_markdown_or_run_in_the_html(tmp_path):
    ledger = _ledger(tmp_path, name="paper\n# injected heading | with a pipe <script>x()</script>")
    write_report(ledger, tmp_path / "out")
    markdown = (tmp_path / "out" / "report.md").read_text()
    page = (tmp_path / "out" / "report.html").read_text()
    assert "\n# injected heading" not in markdown
    assert markdown.splitlines()[0].startswith("# Campaign paper # injected heading | with")
    assert "<script>x()" not in page and "&lt;script&gt;x()" in page
    assert "data:image/png;base64," in page and 'src="http' not in page
    # every table row of the Markdown keeps its column count
    for line in markdown.splitlines():
        if line.startswith("| ") and "injected" in line:
            raise AssertionError(line)


def test_a_pipeline_check_reference_band_is_unresolvable_never_a_value():
    """Fig. 3 of a smoke profile: the reference's 0 ± 0 from 2 ps is not shown as a value."""
    from polyhpc.campaign.figures import reference_label

    check = reference_label("*CCO*", 0.0, 0.0, resolvable=False)
    assert check == "reference *CCO*: unresolvable by this profile (band: its replicas)"
    assert "±" not in check and "0" not in check.replace("*CCO*", "")
    assert reference_label("*CCO*", 1.15, 0.1, resolvable=True) == (
        "reference *CCO*: 1.15 ± 0.1 mS/cm (mean ± std)")
