"""Units, objectives and SLURM time strings: closed forms."""

import math

import pytest

from polyhpc.campaign.evaluate import UnitMismatchError, aggregate, check_units, objective_value
from polyhpc.campaign.tasks import parse_time_left


def test_a_result_in_another_unit_is_refused_never_relabelled():
    check_units({"conductivity": 1e-3, "units": {"conductivity": "S/cm"}}, "r.json")
    with pytest.raises(UnitMismatchError, match=r"r.json: conductivity is in 'mS/cm', polyhpc "
                                                r"records 'S/cm'; convert it, it is never"):
        check_units({"conductivity": 1.0, "units": {"conductivity": "mS/cm"}}, "r.json")
    with pytest.raises(UnitMismatchError, match="has no 'units' map"):
        check_units({"conductivity": 1e-3}, "r.json")


def test_efficacy_is_conductivity_times_cation_transference():
    props = {"conductivity": 2.0e-3, "transference_number": 0.25}
    assert objective_value(props, "conductivity") == 2.0e-3
    assert objective_value(props, "efficacy") == pytest.approx(5.0e-4)
    # no charged cluster: the transference number is undefined (null in JSON), so is efficacy
    assert math.isnan(objective_value({**props, "transference_number": None}, "efficacy"))


def test_aggregate_is_the_sample_mean_and_std_of_finished_replicas():
    results = [{"objective": v, "properties": {"conductivity": v, "transference_number": t}}
               for v, t in ((1e-3, 0.2), (2e-3, float("nan")), (3e-3, 0.4))]
    row = aggregate(results, 5, "conductivity")
    assert row["n_finished"] == 3 and row["n_replicas"] == 5 and row["status"] == "ok"
    assert row["objective_mean"] == pytest.approx(2e-3)
    assert row["objective_std"] == pytest.approx(1e-3)  # ddof=1
    # a NaN transference number (no charged cluster) is left out of its own mean only
    assert row["mean"]["transference_number"] == pytest.approx(0.3)
    assert aggregate([], 5, "conductivity")["status"] == "failed"


@pytest.mark.parametrize("text, seconds", [
    ("1-02:03:04", 93784.0), ("02:03:04", 7384.0), ("03:04", 184.0), ("UNLIMITED", None),
    ("", None)])
def test_slurm_time_left_strings(text, seconds):
    assert parse_time_left(text) == seconds


def test_the_md_eta_is_the_measured_mean_times_the_runs_left_over_those_running():
    from polyhpc.campaign.status import md_eta_s

    def task(status, start=None, end=None):
        return {"status": status, "started_at": start, "ended_at": end}

    tasks = [task("done", 1, 101), task("done", 1, 301), task("running", 5),
             task("pending"), task("submitted")]
    # mean 200 s, 2 queued + half of the running one, 1 running at a time
    assert md_eta_s(tasks) == pytest.approx(200 * 2.5 / 1)
    assert md_eta_s([task("running", 5)]) is None  # nothing measured yet
    assert md_eta_s([task("done", 1, 101)]) is None  # nothing left
