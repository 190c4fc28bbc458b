"""Evaluating candidates: objectives, replica aggregates, buildability, surrogate picks.

Three evaluators (``evaluator.kind``):

- ``md``: every candidate and the reference run R MD replicas (build,
  14-stage equilibration, production, analysis); a replica whose LAMMPS run
  fails is retried with a new seed up to ``md.retries`` times;
- ``surrogate``: the surrogate's prediction is the result, labelled
  ``surrogate`` everywhere (ledger, report, feedback);
- ``surrogate+md``: the surrogate scores every candidate, its acquisition
  (UCB with a diversity filter) picks ``md_top_k`` of them for MD.

The objective is the conductivity (S/cm) or the efficacy, conductivity
times the cation transference number (paper, Outlook).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from polyhpc.analysis.results import PROPERTIES, UNITS
from polyhpc.errors import PolyhpcError


class UnitMismatchError(PolyhpcError):
    """A result states its conductivity in another unit than S/cm."""


def check_units(properties: dict, source: str) -> None:
    """Refuse a result whose ``units`` map says anything but S/cm for conductivity.

    A result is never relabelled: a file in mS/cm is an error, with its name.
    """
    units = properties.get("units")
    if units is None:
        raise UnitMismatchError(f"{source}: result has no 'units' map; conductivity must be "
                                "stated in S/cm")
    for key in ("conductivity", "conductivity_ne"):
        if key in units and units[key] != UNITS[key]:
            raise UnitMismatchError(f"{source}: {key} is in {units[key]!r}, polyhpc records "
                                    f"{UNITS[key]!r}; convert it, it is never relabelled")


def objective_value(properties: dict, objective: str) -> float:
    """The campaign objective of one result (S/cm)."""
    def number(key: str) -> float:  # JSON writes an undefined value (NaN) as null
        value = properties.get(key)
        return math.nan if value is None else float(value)

    if objective == "conductivity":
        return number("conductivity")
    if objective == "efficacy":
        return number("conductivity") * number("transference_number")
    raise PolyhpcError(f"unknown objective {objective!r}")


def aggregate(results: list[dict], n_replicas: int, objective: str) -> dict:
    """Replica mean and sample std (ddof=1) of every property and of the objective.

    Values that are not finite (e.g. a transference number without any charged cluster) are
    left out of that property's mean; ``n_finished`` counts replicas with a result. A
    candidate with no finished replica (or no finite objective) is ``failed``.
    """
    def stats(values) -> tuple[float | None, float | None]:
        finite = np.array([v for v in values if v is not None and math.isfinite(v)], float)
        if len(finite) == 0:
            return None, None
        return float(finite.mean()), float(finite.std(ddof=1)) if len(finite) > 1 else None

    mean, std = {}, {}
    for name in PROPERTIES:
        mean[name], std[name] = stats([r["properties"].get(name) for r in results])
    objective_mean, objective_std = stats([r["objective"] for r in results])
    return {"objective": objective, "n_replicas": n_replicas, "n_finished": len(results),
            "objective_mean": objective_mean, "objective_std": objective_std,
            "conductivity_mean": mean["conductivity"], "conductivity_std": std["conductivity"],
            "mean": mean, "std": std,
            "status": "ok" if results and objective_mean is not None else "failed"}


def buildability(smiles: str, lookup) -> str | None:
    """Why a unit cannot be built for MD (invalid, untypeable, missing parameters), or None.

    Checked once per candidate before any replica is queued: such a candidate is
    recorded with the reason and never retried.
    """
    from polyhpc.md.coverage import unit_assignment

    try:
        assignment = unit_assignment(smiles, lookup)
    except PolyhpcError as exc:
        return str(exc)
    if not assignment.complete:
        missing = "; ".join(f"{kind}: {'-'.join(key)}" for kind, keys in
                            assignment.missing.items() for key in keys)
        return f"missing PCFF parameters ({missing})"
    return None


def surrogate_properties(row: dict) -> dict:
    """A surrogate prediction row as a result's properties (S/cm), marked as surrogate."""
    props = {"conductivity": float(10 ** row["surrogate_log10_conductivity"]),
             "surrogate_log10_conductivity": row["surrogate_log10_conductivity"],
             "surrogate_log10_conductivity_std": row["surrogate_log10_conductivity_std"],
             "source": "surrogate", "units": {"conductivity": UNITS["conductivity"]}}
    if row.get("surrogate_transference_number") is not None:
        props["transference_number"] = row["surrogate_transference_number"]
    return props


def pick_for_md(rows: list[dict], k: int, method: str, beta: float,
                max_similarity: float) -> list[str]:
    """Canonical identities the surrogate's acquisition sends to MD, in pick order."""
    import pandas as pd

    from polyhpc.surrogate.acquisition import select

    table = pd.DataFrame(rows)
    picked = select(table, k, method, beta, max_similarity)
    return picked["canonical"].tolist()


# ---------------------------------------------------------------------------- evaluators
_OPEN = ("pending", "submitted", "running")
#: The tasks of one replica attempt, in order: build on a CPU, LAMMPS, the analysis.
_CHAIN = ("build", "md", "analyze")

#: Columns of the HTP-MD property table a campaign's MD means are written under, S/cm first.
_TRAINING_COLUMNS = {"conductivity": "conductivity_S_per_cm",
                     "li_diffusivity": "li_diffusivity_cm2_per_s",
                     "tfsi_diffusivity": "tfsi_diffusivity_cm2_per_s",
                     "poly_diffusivity": "poly_diffusivity_cm2_per_s",
                     "transference_number": "transference_number",
                     "molality": "molality_mol_per_kg"}


class _Evaluator:
    """What every evaluator works with: the campaign, its ledger, scheduler and config."""

    def __init__(self, campaign):
        self.campaign = campaign
        self.ledger = campaign.ledger
        self.scheduler = campaign.scheduler
        self.config = campaign.config


class MdEvaluator(_Evaluator):
    """MD replicas of candidates through the campaign's scheduler, resumable from the ledger.

    Each replica is a chain of ledger tasks: ``md`` attempt 0 (build, equilibrate,
    produce), its ``analyze`` task, and after a failed simulation ``md`` attempt 1, 2, ...
    with new seeds, up to ``md.retries``. What a replica needs next is read from its tasks
    every time, so a rerun continues it where it stopped.
    """

    def run(self, it: int, candidates: list[dict]) -> None:
        """Evaluate ``candidates`` (rows) by MD in iteration ``it``; aggregate each."""
        from pathlib import Path

        from polyhpc.md.forcefield import ParameterLookup
        from polyhpc.md.frc import read_frc

        frc = self.config.md.frc
        lookup = ParameterLookup(read_frc(Path(frc) if frc else None))
        todo = []
        for c in candidates:
            reason = c["reason"] if c["status"] == "unbuildable" else \
                buildability(c["smiles"], lookup)
            if reason is not None:
                if c["status"] != "unbuildable":
                    self.ledger.update_candidate(c["id"], status="unbuildable",
                                                 reason=reason[:1000])
                    self.ledger.event("unbuildable", f"{c['smiles']}: {reason}")
                continue
            self.ledger.update_candidate(c["id"], status="evaluating")
            todo.append(c)
        for c in todo:
            for replica in range(self.campaign.replicas):
                self._advance(it, c, replica)
        self.scheduler.drain()
        for c in todo:
            if all(self._closed(c, r) for r in range(self.campaign.replicas)):
                results = self.ledger.results(c["id"], "md")
                row = aggregate(results, self.campaign.replicas, self.config.objective)
                self.ledger.set_aggregate(c["id"], "md", row)
                if row["n_finished"] < self.campaign.replicas:
                    self.ledger.update_candidate(c["id"], reason=self._why_failed(c, row))

    def _why_failed(self, candidate: dict, row: dict) -> str:
        """``k of R replicas finished``, with the last error of the failed ones."""
        errors = [t["error_message"] for t in self.ledger.tasks(candidate_id=candidate["id"])
                  if t["status"] == "failed" and t["error_message"]]
        return (f"{row['n_finished']} of {row['n_replicas']} replicas finished"
                + (f"; last error: {errors[-1][:300]}" if errors else ""))

    def _next(self, candidate: dict, replica: int) -> tuple[str, int] | None:
        """What a replica needs next, ``(kind, attempt)``, or None once it has its end.

        Each attempt is the chain build -> md -> analyze; a failed build or simulation
        starts the next attempt (new seeds) while retries are left.
        """
        tasks = [t for t in self.ledger.tasks(candidate_id=candidate["id"])
                 if t["replica"] == replica and t["kind"] in _CHAIN]
        if not tasks:
            return "build", 0
        attempt = max(t["attempt"] for t in tasks)
        latest = {t["kind"]: t for t in tasks if t["attempt"] == attempt}
        for kind in _CHAIN:
            task = latest.get(kind)
            if task is None or task["status"] in _OPEN:
                return kind, attempt
            if task["status"] == "failed":
                if kind != "analyze" and attempt < self.config.md.retries:
                    return "build", attempt + 1
                return None
        return None

    def _closed(self, candidate: dict, replica: int) -> bool:
        """Whether a replica has its final state (a result, or no attempt left)."""
        return self._next(candidate, replica) is None

    def _advance(self, it: int, candidate: dict, replica: int) -> None:
        """Start what a replica needs next: a build, an MD run, its analysis, or nothing."""
        step = self._next(candidate, replica)
        if step is not None:
            kind, attempt = step
            {"build": self._start_build, "md": self._start_md,
             "analyze": self._start_analyze}[kind](candidate, replica, attempt)

    def _workdir(self, candidate: dict, replica: int, attempt: int):
        if candidate["role"] == "reference":
            folder = self.campaign.folder / "reference"
        else:
            folder = self.campaign.folder / f"iter{candidate['iteration']:02d}" / \
                f"cand{candidate['id']:04d}"
        return folder / (f"rep{replica}" + (f"-retry{attempt}" if attempt else ""))

    def _task(self, kind: str, candidate: dict, replica: int, attempt: int, **fields) -> dict:
        """The ledger task of one link of a replica's chain (all carry seed and folder)."""
        return self.ledger.ensure_task(
            kind, candidate["iteration"], candidate["id"], replica, attempt,
            seed=self.campaign.seed("md", candidate["id"], attempt),
            workdir=str(self._workdir(candidate, replica, attempt)), **fields)

    def _spec(self, candidate: dict, task: dict) -> dict:
        md = self.config.md
        return {"smiles": candidate["smiles"], "workdir": task["workdir"],
                "profile": str(self.campaign.profile_path), "seed": task["seed"],
                "replica": task["replica"], "frc": md.frc, "threads": md.threads,
                "mpi_ranks": md.mpi_ranks, "lmp_args": list(md.lmp_args), "gpus": md.gpus,
                "replicas": self.campaign.replicas,
                "walltime_margin_s": self.config.site.walltime_margin_s}

    def _start_build(self, candidate: dict, replica: int, attempt: int) -> None:
        limit = self.config.budget.max_md_replicas
        new = self.ledger.tasks("build", candidate_id=candidate["id"])
        new = not any(t["replica"] == replica and t["attempt"] == attempt for t in new)
        if new and self.campaign.budget_spent():
            return
        if new and limit is not None and len(self.ledger.tasks("build")) >= limit:
            if not self.campaign.out_of_budget:
                self.ledger.event("budget", f"MD budget of {limit} replica runs spent")
            self.campaign.out_of_budget = True
            return
        task = self._task("build", candidate, replica, attempt, cores=1)
        self.scheduler.start(task, "build", self._spec(candidate, task),
                             lambda t, r, e: self._built(candidate, t, r, e))

    def _built(self, candidate: dict, task: dict, result, error) -> None:
        if error is None:
            self.ledger.update_task(task["id"], status="done")
        else:
            self.scheduler.fail(task, error)
            self._retry_event(candidate, task)
        self._advance(task["iteration"], candidate, task["replica"])

    def _start_md(self, candidate: dict, replica: int, attempt: int) -> None:
        md = self.config.md
        task = self._task("md", candidate, replica, attempt, cores=md.threads * md.mpi_ranks,
                          gpus=md.gpus)
        if task["submissions"] > 0:
            self.ledger.event("continuation", f"md task {task['id']} ({candidate['smiles']} "
                                              f"replica {replica}) continues in "
                                              f"{task['workdir']}", task["id"])
        self.scheduler.start(task, "md", self._spec(candidate, task),
                             lambda t, r, e: self._simulated(t["iteration"], candidate, t, r, e))

    def _start_analyze(self, candidate: dict, replica: int, attempt: int) -> None:
        task = self._task("analyze", candidate, replica, attempt, cores=1)
        self.scheduler.start(task, "analyze", {"workdir": task["workdir"]},
                             lambda t, r, e: self._analyzed(candidate, t, r, e))

    def _retry_event(self, candidate: dict, task: dict) -> None:
        left = self.config.md.retries - task["attempt"]
        what = (f"{candidate['smiles']} replica {task['replica']} attempt {task['attempt']} "
                f"failed in {task['kind']} ({self.ledger.task(task['id'])['error_message']})")
        self.ledger.event("retry" if left > 0 else "replica failed",
                          what + (f"; retrying with a new seed ({left} left)" if left > 0
                                  else "; no retries left"), task["id"])

    def _simulated(self, it: int, candidate: dict, task: dict, result, error) -> None:
        if error is None:
            self._record_continuation(task, result)
        if error is None and result.get("timed_out"):
            # stopped cleanly before a block's walltime: the next submission continues it
            self.ledger.event("continuation", f"md task {task['id']} stopped at "
                                              f"{result.get('stage')} before the walltime; "
                                              "submitted again", task["id"])
            self._advance(it, candidate, task["replica"])
            return
        if error is not None:
            self.scheduler.fail(task, error)
        elif result["ok"]:
            self.ledger.update_task(task["id"], status="done", info={
                "ns_per_day": result.get("ns_per_day")})
        else:
            self.scheduler.fail(task, result.get("error") or "failed",
                                error_class=f"md:{result.get('stage')}")
        if error is not None or not result["ok"]:
            self._retry_event(candidate, task)
        self._advance(it, candidate, task["replica"])

    def _record_continuation(self, task: dict, result: dict) -> None:
        """Where a resubmitted replica picked up: the first stage it did not skip."""
        records = result.get("records") or []
        skipped = [r["name"] for r in records if r["status"] == "skipped"]
        resumed = [r for r in records if r["status"] != "skipped"]
        if not skipped and not any(r.get("continued_from") for r in records):
            return
        first = resumed[0] if resumed else None
        entry = {"run": self.ledger.run_id, "submission": task["submissions"],
                 "skipped": skipped, "resumed_at": first["name"] if first else None,
                 "from_restart": first.get("continued_from") if first else None,
                 "status": result.get("status")}
        self.ledger.update_task(task["id"], continuations=[*task["continuations"], entry])

    def _analyzed(self, candidate: dict, task: dict, result, error) -> None:
        import json
        from pathlib import Path

        if error is None:
            properties = result["properties"]
            try:
                check_units(properties, f"analysis of {task['workdir']}")
            except UnitMismatchError as exc:
                error = exc
        if error is not None:
            self.scheduler.fail(task, error)
            self.ledger.event("replica failed", f"analysis of {task['workdir']} failed: {error}",
                              task["id"])
            return
        try:
            meta = json.loads((Path(task["workdir"]) / "meta.json").read_text())
        except (OSError, ValueError):
            meta = {}
        provenance = {k: meta.get(k) for k in ("protocol", "deviations", "force_field",
                                               "force_field_file", "provenance")}
        self.ledger.record_result(task["id"], candidate["id"], task["replica"], "md",
                                  properties, objective_value(properties, self.config.objective),
                                  provenance)


class SurrogateEvaluator(_Evaluator):
    """Surrogate predictions for candidates: the evaluator itself, or MD's pre-screen."""

    def run(self, it: int, candidates: list[dict]) -> None:
        """Predict ``candidates`` that have no prediction; as evaluator, record results."""
        model = self._model(it)
        todo = [c for c in candidates if c["surrogate_mean"] is None]
        if todo:
            task = self.ledger.ensure_task("surrogate_predict", it, attempt=len(
                self.ledger.tasks("surrogate_predict", iteration=it)))
            rows = self._predict(it, model, todo, task)
            for c, row in zip(todo, rows, strict=True):
                mean = row.get("surrogate_log10_conductivity")
                self.ledger.update_candidate(
                    c["id"], surrogate_mean=mean, surrogate_std=row.get(
                        "surrogate_log10_conductivity_std"),
                    **({} if mean is not None else {"reason": "surrogate: no prediction "
                                                              f"({row.get('reason', 'invalid')})"}))
                if self.config.evaluator.kind == "surrogate":
                    self._record(c, row, task)

    def _record(self, candidate: dict, row: dict, task: dict) -> None:
        if row.get("surrogate_log10_conductivity") is None:
            result = []
        else:
            props = surrogate_properties(row)
            objective = objective_value(props, self.config.objective)
            self.ledger.record_result(task["id"], candidate["id"], None, "surrogate", props,
                                      objective, {"model": "surrogate"})
            result = self.ledger.results(candidate["id"], "surrogate")
        self.ledger.set_aggregate(candidate["id"], "surrogate",
                                  aggregate(result, 1, self.config.objective))

    def _predict(self, it: int, model: dict, candidates: list[dict], task: dict) -> list[dict]:
        out: dict = {}

        def done(t, result, error) -> None:

            if error is not None:
                self.scheduler.fail(t, error)
                out["error"] = error
            else:
                self.ledger.update_task(t["id"], status="done")
                out["rows"] = result["rows"]

        self.scheduler.start(task, "surrogate_predict", {
            "model": model["path"], "smiles": [c["smiles"] for c in candidates]}, done)
        self.scheduler.drain()
        if "error" in out:
            from polyhpc.campaign.scheduler import CampaignError

            raise CampaignError(f"surrogate prediction of iteration {it} failed: {out['error']}")
        return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in row.items()} for row in out["rows"]]

    def _model(self, it: int) -> dict:
        """The surrogate of iteration ``it``: trained on HTP-MD plus this campaign's MD means."""
        import pandas as pd

        recorded = self.ledger.checkpoint(it, "surrogate")
        if recorded is not None:
            return recorded
        s = self.config.surrogate
        if it > 1 and not s.retrain_each_iteration:
            previous = self.ledger.checkpoint(it - 1, "surrogate")
            self.ledger.add_checkpoint(it, "surrogate", previous["path"], previous["sha256"],
                                       {"reused_from_iteration": it - 1})
            return self.ledger.checkpoint(it, "surrogate")
        folder = self.campaign.folder / f"iter{it:02d}" / "surrogate"
        folder.mkdir(parents=True, exist_ok=True)
        bound = s.model.max_conductivity_S_per_cm
        rows, left_out = [], {"zero": 0, "implausible": 0}
        for agg in self.ledger.aggregates(source="md"):
            conductivity = agg["mean"].get("conductivity") if agg["status"] == "ok" else None
            if conductivity is None:
                continue
            # a log10 model cannot learn 0 (no ion moved), and values above what any polymer
            # electrolyte reaches (a smoke-length run) would teach it nonsense: left out, counted
            if not 0 < conductivity <= bound:
                left_out["zero" if conductivity <= 0 else "implausible"] += 1
                continue
            row = {"smiles": self.ledger.candidate(agg["candidate_id"])["smiles"]}
            row.update({column: agg["mean"].get(key) for key, column in _TRAINING_COLUMNS.items()})
            rows.append(row)
        pd.DataFrame(rows, columns=["smiles", *_TRAINING_COLUMNS.values()]).to_csv(
            folder / "campaign-md.csv", index=False)
        model = dataclasses.replace(s.model, seed=self.campaign.seed("surrogate", it))
        from polyhpc.config import to_dict

        if left_out["zero"] or left_out["implausible"]:
            self.ledger.event("surrogate", f"iteration {it}: {left_out['zero']} MD mean(s) of zero "
                              f"conductivity and {left_out['implausible']} above "
                              f"{bound:g} S/cm left out of the surrogate's training set")
        result = self.scheduler.run_one("surrogate_train", it, {
            "extra_csv": str(folder / "campaign-md.csv"), "config": to_dict(model),
            "out": str(folder / "model.pkl")}, f"training the surrogate of iteration {it}")
        self.ledger.add_checkpoint(it, "surrogate", result["model"], result["sha256"],
                                   {"n_training": result["n_training"],
                                    "campaign_md_rows": len(rows),
                                    "campaign_md_rows_left_out": left_out})
        return self.ledger.checkpoint(it, "surrogate")
