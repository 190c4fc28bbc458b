"""The MD evaluator: replicas of every candidate through the scheduler, resumable from the ledger.

Each replica is a chain of ledger tasks: ``build`` (the system, on a CPU
worker), ``md`` (LAMMPS: equilibration and production) and ``analyze``; a
failed build or simulation starts the next attempt of the chain with new
seeds, up to ``md.retries``. What a replica needs next is read from its
tasks every time, so a rerun continues it where it stopped. Every task gets
a typed :class:`~polyhpc.campaign.specs.ReplicaSpec` holding the protocol
itself and the force-field file's sha256.
"""

from __future__ import annotations

from pathlib import Path

from polyhpc.campaign import specs
from polyhpc.campaign.adaptive import ReplicaPlan
from polyhpc.campaign.evaluate import (
    Evaluator,
    UnitMismatchError,
    aggregate,
    buildability,
    check_units,
    objective_value,
)
from polyhpc.campaign.md_chain import next_step


class MdEvaluator(Evaluator):
    """MD replicas of candidates, and the reference's, aggregated per candidate."""

    # ------------------------------------------------------------------ what to evaluate
    def evaluate(self, it: int, candidates: list[dict], reference: dict) -> None:
        """Evaluate ``candidates`` and, once per campaign, the ``reference`` by MD."""
        pending = [c for c in candidates if not self.ledger.aggregates(c["id"], "md")]
        if not self.ledger.aggregates(reference["id"], "md"):
            pending.append(reference)
        self.run(it, pending)

    def run(self, it: int, candidates: list[dict]) -> None:
        """Run the replicas of ``candidates`` (rows) in iteration ``it``; aggregate each.

        Every candidate gets its replicas from the :class:`ReplicaPlan`: all of them, or
        (``md.adaptive``) the rounds racing gives it.
        """
        todo = self._buildable(candidates)
        self.plan = ReplicaPlan(self.context, it, todo)
        for c in todo:
            for replica in range(self.plan.wanted(c)):
                self._advance(c, replica)
        self.scheduler.watchers.append(self._watch_partials)
        try:
            self.scheduler.drain()
        finally:
            self.scheduler.watchers.remove(self._watch_partials)
        for c in todo:
            if self.plan.final(c) and self.plan.round_closed(c):
                self._aggregate(c)

    def _watch_partials(self) -> None:
        """Adaptive MD: record the partial results of running replicas, stop decided ones."""
        from polyhpc.campaign.tasks import STOP_FILE

        if self.plan.config is None:
            return
        for task in self.ledger.tasks("md"):
            if task["status"] in ("submitted", "running") and task["candidate_id"] in \
                    self.plan.candidates:
                self._record_partials(task)
        for workdir in self.plan.settle_partials():
            stop = Path(workdir) / STOP_FILE
            if not stop.exists():
                stop.write_text("stopped by adaptive MD: its candidate is decided\n")

    def _record_partials(self, task: dict) -> None:
        """The partial results an md task's production has written, into the ledger."""
        import json

        for path in sorted(Path(task["workdir"]).glob("partial-*.json")):
            try:
                row = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # written atomically; a half-read one is read next time
            props = row["properties"]
            self.ledger.record_partial(task["id"], task["candidate_id"], task["replica"],
                                       row["production_ps"], props,
                                       objective_value(props, self.config.objective))

    def _buildable(self, candidates: list[dict]) -> list[dict]:
        """The candidates that can be built; the others are recorded with the reason."""
        from polyhpc.md.forcefield import ParameterLookup
        from polyhpc.md.frc import read_frc

        lookup = ParameterLookup(read_frc(self.context.frc))
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
        return todo

    def _aggregate(self, candidate: dict) -> None:
        results = self.ledger.results(candidate["id"], "md")
        row = aggregate(results, self.context.replicas, self.config.objective,
                        self.context.min_replicas)
        stop = self.plan.stop(candidate)
        if stop is not None and stop["outcome"] == "below":
            row["status"] = "stopped"  # decided below the reference: never a winner
        self.ledger.set_aggregate(candidate["id"], "md", row)
        if stop is not None:
            self.ledger.update_candidate(candidate["id"], reason=stop["message"][:1000])
        elif row["n_finished"] < self.context.replicas:
            self.ledger.update_candidate(candidate["id"], reason=self._why_short(candidate, row))

    def _why_short(self, candidate: dict, row: dict) -> str:
        """``k of R replicas finished`` (and the needed minimum), with the last error."""
        errors = [t["error_message"] for t in self.ledger.tasks(candidate_id=candidate["id"])
                  if t["status"] == "failed" and t["error_message"]]
        need = self.context.min_replicas
        return (f"{row['n_finished']} of {row['n_replicas']} replicas finished"
                + (f" (a result needs {need})" if row["status"] == "incomplete" else "")
                + (f"; last error: {errors[-1][:300]}" if errors else ""))

    # ------------------------------------------------------------------ one replica's chain
    def _next(self, candidate: dict, replica: int) -> tuple[str, int] | None:
        """What a replica needs next (:func:`polyhpc.campaign.md_chain.next_step`)."""
        return next_step(self.ledger, candidate, replica, self.config.md.retries)

    def _advance(self, candidate: dict, replica: int) -> None:
        """Start what a replica needs next: a build, an MD run, its analysis, or nothing.

        A replica at its end lets racing look at its candidate (and, in iteration 1, at
        every candidate waiting for the first round to finish): that may start replicas.
        """
        step = self._next(candidate, replica)
        if step is None:
            for other, index in self.plan.settle():
                self._advance(other, index)
            return
        kind, attempt = step
        {"build": self._start_build, "md": self._start_md,
         "analyze": self._start_analyze}[kind](candidate, replica, attempt)

    def _workdir(self, candidate: dict, replica: int, attempt: int) -> Path:
        if candidate["role"] == "reference":
            folder = self.context.folder / "reference"
        else:
            folder = self.context.folder / f"iter{candidate['iteration']:02d}" / \
                f"cand{candidate['id']:04d}"
        return folder / (f"rep{replica}" + (f"-retry{attempt}" if attempt else ""))

    def _task(self, kind: str, candidate: dict, replica: int, attempt: int, **fields) -> dict:
        """The ledger task of one link of a replica's chain (all carry seed and folder)."""
        return self.ledger.ensure_task(
            kind, candidate["iteration"], candidate["id"], replica, attempt,
            seed=self.context.seeds.seed("md", candidate["id"], attempt),
            workdir=self._workdir(candidate, replica, attempt), **fields)

    def _spec(self, candidate: dict, task: dict) -> specs.ReplicaSpec:
        md = self.config.md
        checkpoints = {}
        if md.adaptive is not None and candidate["role"] != "reference":
            dt = self.context.protocol.timestep_fs
            checkpoints = {"checkpoint_every_steps": round(md.adaptive.check_every_ps * 1000 / dt),
                           "partial_from_steps": round(md.adaptive.min_production_ps * 1000 / dt)}
        return specs.ReplicaSpec(**checkpoints,
            smiles=candidate["smiles"], workdir=task["workdir"], protocol=self.context.protocol,
            seed=task["seed"], replica=task["replica"], frc=str(self.context.frc),
            frc_sha256=self.context.frc_sha256, threads=md.threads, mpi_ranks=md.mpi_ranks,
            lmp_args=md.lmp_args, gpus=md.gpus,
            walltime_margin_s=self.config.site.walltime_margin_s)

    def _start_build(self, candidate: dict, replica: int, attempt: int) -> None:
        known = self.ledger.tasks("build", candidate_id=candidate["id"])
        new = not any(t["replica"] == replica and t["attempt"] == attempt for t in known)
        if new and not self.context.budget.allows_replica():
            return
        task = self._task("build", candidate, replica, attempt, cores=1)
        self.scheduler.start(task, "build", self._spec(candidate, task),
                             lambda t, r, e: self._built(candidate, t, e))

    def _built(self, candidate: dict, task: dict, error) -> None:
        if error is None:
            self.ledger.update_task(task["id"], status="done")
        else:
            self.scheduler.fail(task, error)
            self._retry_event(candidate, task)
        self._advance(candidate, task["replica"])

    def _start_md(self, candidate: dict, replica: int, attempt: int) -> None:
        md = self.config.md
        task = self._task("md", candidate, replica, attempt, cores=md.threads * md.mpi_ranks,
                          gpus=md.gpus)
        if task["submissions"] > 0:
            self.ledger.event("continuation", f"md task {task['id']} ({candidate['smiles']} "
                                              f"replica {replica}) continues in "
                                              f"{task['workdir']}", task["id"])
        self.scheduler.start(task, "md", self._spec(candidate, task),
                             lambda t, r, e: self._simulated(candidate, t, r, e))

    def _start_analyze(self, candidate: dict, replica: int, attempt: int) -> None:
        task = self._task("analyze", candidate, replica, attempt, cores=1)
        self.scheduler.start(task, "analyze", specs.AnalyzeSpec(workdir=task["workdir"]),
                             lambda t, r, e: self._analyzed(candidate, t, r, e))

    def _retry_event(self, candidate: dict, task: dict) -> None:
        left = self.config.md.retries - task["attempt"]
        what = (f"{candidate['smiles']} replica {task['replica']} attempt {task['attempt']} "
                f"failed in {task['kind']} ({self.ledger.task(task['id'])['error_message']})")
        self.ledger.event("retry" if left > 0 else "replica failed",
                          what + (f"; retrying with a new seed ({left} left)" if left > 0
                                  else "; no retries left"), task["id"])

    def _simulated(self, candidate: dict, task: dict, outcome: specs.ReplicaOutcome | None,
                   error) -> None:
        if error is None:
            self._record_continuation(task, outcome)
            if self.plan.config is not None:
                self._record_partials(task)  # every checkpoint it reached, seen or not
        if error is None and outcome.status == "timed out":
            # stopped cleanly before a block's walltime: the next submission continues it
            self.ledger.event("continuation", f"md task {task['id']} stopped at "
                                              f"{outcome.stage} before the walltime; "
                                              "submitted again", task["id"])
            self._advance(candidate, task["replica"])
            return
        if error is not None:
            self.scheduler.fail(task, error)
        elif outcome.ok or outcome.status == "stopped early":
            self.ledger.update_task(task["id"], status="done", info={
                "ns_per_day": outcome.ns_per_day, "production_ps": outcome.production_ps,
                "stopped_early": outcome.status == "stopped early"})
        else:
            self.scheduler.fail(task, outcome.error or "failed",
                                error_class=f"md:{outcome.stage}")
        if error is not None or not (outcome.ok or outcome.status == "stopped early"):
            self._retry_event(candidate, task)
        self._advance(candidate, task["replica"])

    def _record_continuation(self, task: dict, outcome: specs.ReplicaOutcome) -> None:
        """Where a resubmitted replica picked up: the first stage it did not skip."""
        records = outcome.records
        skipped = [r["name"] for r in records if r["status"] == "skipped"]
        resumed = [r for r in records if r["status"] != "skipped"]
        if not skipped and not any(r.get("continued_from") for r in records):
            return
        first = resumed[0] if resumed else None
        entry = {"run": self.ledger.run_id, "submission": task["submissions"],
                 "skipped": skipped, "resumed_at": first["name"] if first else None,
                 "from_restart": first.get("continued_from") if first else None,
                 "status": outcome.status}
        self.ledger.update_task(task["id"], continuations=[*task["continuations"], entry])

    def _analyzed(self, candidate: dict, task: dict, outcome: specs.AnalysisOutcome | None,
                  error) -> None:
        if error is None:
            try:
                check_units(outcome.properties, f"analysis of {task['workdir']}")
            except UnitMismatchError as exc:
                error = exc
        if error is not None:
            self.scheduler.fail(task, error)
            self.ledger.event("replica failed", f"analysis of {task['workdir']} failed: {error}",
                              task["id"])
        else:
            self.ledger.record_result(task["id"], candidate["id"], task["replica"], "md",
                                      outcome.properties,
                                      objective_value(outcome.properties, self.config.objective),
                                      outcome.provenance)
        self._advance(candidate, task["replica"])  # the replica's end: racing may look
