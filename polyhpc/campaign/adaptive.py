"""How many MD replicas each candidate gets: all of them, or what replica racing decides.

:class:`ReplicaPlan` is the campaign side of :mod:`polyhpc.campaign.racing`:
it reads the racing decisions already in the ledger (so a resumed campaign
redoes and skips none), looks at every candidate whose round has finished,
records each look as a decision row, and says which replicas to start next.
Without ``md.adaptive`` every candidate gets every replica (the fixed
protocol). The reference always gets all of its replicas.
"""

from __future__ import annotations

from polyhpc.campaign import racing
from polyhpc.campaign.md_chain import replica_closed


def _per_replica_ns(protocol) -> float:
    from polyhpc.md.protocol import equilibration_stages

    return (sum(s.duration_ps for s in equilibration_stages(protocol))
            + protocol.production_ps) / 1000.0


class ReplicaPlan:
    """The replicas of an iteration's candidates, fixed or raced (resumable from the ledger)."""

    def __init__(self, context, iteration: int, candidates: list[dict]):
        self.context = context
        self.ledger = context.ledger
        self.iteration = iteration
        self.config = context.config.md.adaptive
        self.candidates = {c["id"]: c for c in candidates}
        self.replicas = context.replicas
        self.production_ps = context.protocol.production_ps
        self.per_replica_ns = _per_replica_ns(context.protocol)

    # ------------------------------------------------------------------ state from the ledger
    def racing(self, candidate: dict) -> bool:
        """Whether this candidate's replicas are raced (never the reference's)."""
        return self.config is not None and candidate["role"] != "reference"

    def stop(self, candidate: dict) -> dict | None:
        """The decision that stopped the candidate early, or None."""
        return next((d for d in self.ledger.decisions(candidate["id"])
                     if d["outcome"] != "continue"), None)

    def wanted(self, candidate: dict) -> int:
        """Replicas the candidate gets so far: all, or its rounds' sizes."""
        if not self.racing(candidate):
            return self.replicas
        stop = self.stop(candidate)
        if stop is not None:
            return stop["n_replicas"]
        rounds = sum(1 for d in self.ledger.decisions(candidate["id"])
                     if d["outcome"] == "continue" and d["production_ps"] >= self.production_ps)
        return min(self.config.first_round + rounds, self.replicas)

    def final(self, candidate: dict) -> bool:
        """Whether no more replicas will be started for the candidate."""
        return self.wanted(candidate) >= self.replicas or self.stop(candidate) is not None

    def round_closed(self, candidate: dict) -> bool:
        """Whether every replica the candidate has now has its end."""
        return all(replica_closed(self.ledger, candidate, r, self.context.config.md.retries)
                   for r in range(self.wanted(candidate)))

    def _values(self, candidate: dict) -> list[float]:
        return [r["objective"] for r in self.ledger.results(candidate["id"], "md")
                if r["objective"] is not None]

    def _reference(self) -> dict | None:
        return next(iter(self.ledger.candidates(role="reference")), None)

    # ------------------------------------------------------------------ the pool
    def pool(self) -> racing.Pool | None:
        """The replica spread frozen for this iteration, or None while it cannot be known."""
        key = f"racing_pool_iteration_{self.iteration}"
        stored = self.ledger.meta(key)
        if stored is not None:
            return racing.Pool(stored["s2"], stored["dof"])
        reference = self._reference()
        if reference is None or not self.round_closed(reference):
            return None
        sets = [self._values(reference)]
        earlier = [c for c in self.ledger.candidates(role="candidate")
                   if c["iteration"] < self.iteration]
        sets += [self._values(c) for c in earlier]
        if self.iteration == 1 or not earlier:
            # nothing finished before this iteration: its first round, once all of it is done
            raced = [c for c in self.candidates.values() if self.racing(c)]
            if not all(self.round_closed(c) for c in raced):
                return None
            sets += [self._values(c) for c in raced]
        pool = racing.pooled_variance(sets, self.config.prior_cv, self.config.prior_dof)
        self.ledger.set_meta(key, {"s2": pool.s2, "dof": pool.dof,
                                   "sets": sum(len(v) > 1 for v in sets)})
        return pool

    # ------------------------------------------------------------------ looks
    def settle(self) -> list[tuple[dict, int]]:
        """Look at every candidate whose round has finished; the replicas to start now."""
        if self.config is None:
            return []
        reference = self._reference()
        start = []
        for candidate in self.candidates.values():
            if not self.racing(candidate) or self.final(candidate) or \
                    not self.round_closed(candidate):
                continue
            pool = self.pool()
            if pool is None or reference is None:
                return start  # the yardstick or the spread is not known yet
            reference_values = self._values(reference)
            if len(reference_values) < 2:
                return start
            self._partial_looks(candidate)  # the round's checkpoints first, in order
            if self.stop(candidate) is not None:
                continue
            n = self.wanted(candidate)
            decision = racing.decide(self._values(candidate), [], self.production_ps,
                                     reference_values, pool, self.config, self.replicas,
                                     self.production_ps, self.context.min_replicas)
            saved = (self.replicas - n) * self.per_replica_ns \
                if decision.outcome != "continue" else 0.0
            round_ = n - self.config.first_round + 1 if n > self.config.first_round else 1
            self.ledger.record_decision(self.iteration, candidate["id"], round_,
                                        decision.to_dict(), saved,
                                        self._message(candidate, decision, saved))
            if decision.outcome == "continue" and n < self.replicas:
                start.append((candidate, n))
            elif decision.outcome != "continue":
                self.ledger.event("racing", self._message(candidate, decision, saved))
        return start

    def _current_md(self, candidate: dict, replica: int) -> dict | None:
        tasks = [t for t in self.ledger.tasks("md", candidate_id=candidate["id"])
                 if t["replica"] == replica]
        return max(tasks, key=lambda t: t["attempt"]) if tasks else None

    def round_replicas(self, candidate: dict) -> list[int]:
        """The replicas of the candidate's current round: the first ones, or the last added."""
        n = self.wanted(candidate)
        return list(range(n)) if n <= self.config.first_round else [n - 1]

    def settle_partials(self) -> list[str]:
        """Look at racing rounds at their production checkpoints; the folders to stop."""
        stop = []
        for candidate in self.candidates.values():
            if self.racing(candidate):
                stop += self._partial_looks(candidate)
        return stop

    def _partial_looks(self, candidate: dict) -> list[str]:
        """The looks at the candidate's round at its checkpoints; its folders if stopped.

        The round is looked at checkpoint ``p`` once every replica of the round has a
        partial result at ``p``, whether it is still running or not, so the looks never
        depend on which replica reported first or on when the driver saw them; only
        "below" can stop it there. A recorded stop is acted on again after a resume (its
        running folders get their STOP file once more).
        """
        if self.config is None or not self.racing(candidate):
            return []
        reference = self._reference()
        pool = self.pool()
        reference_values = self._values(reference) if reference else []
        if pool is None or len(reference_values) < 2:
            return []
        n = self.wanted(candidate)
        tasks = [self._current_md(candidate, r) for r in self.round_replicas(candidate)]
        if any(t is None for t in tasks):
            return []
        retries = self.context.config.md.retries
        running = [t["workdir"] for t, r in zip(tasks, self.round_replicas(candidate),
                                                 strict=True)
                   if not replica_closed(self.ledger, candidate, r, retries)]
        decided = self.stop(candidate)
        if decided is not None:
            return running if decided["outcome"] == racing.BELOW else []
        round_ = n - self.config.first_round + 1 if n > self.config.first_round else 1
        partial = [{round(row["production_ps"], 6): row["objective"]
                    for row in self.ledger.partials(task_id=t["id"])} for t in tasks]
        recorded = {round(d["production_ps"], 6) for d in self.ledger.decisions(candidate["id"])
                    if d["round"] == round_}
        earlier = [v for r, v in self._values_by_replica(candidate).items()
                   if r not in self.round_replicas(candidate)]
        for p in racing.checkpoints_ps(self.config, self.production_ps)[:-1]:
            key = round(p, 6)
            if any(key not in values for values in partial):
                return []
            if key in recorded:
                continue
            decision = racing.decide(earlier, [values[key] for values in partial], p,
                                     reference_values, pool, self.config, self.replicas,
                                     self.production_ps, self.context.min_replicas)
            saved = 0.0
            if decision.outcome == racing.BELOW:
                saved = (self.replicas - n) * self.per_replica_ns + \
                    (self.production_ps - p) * len(running) / 1000.0
            self.ledger.record_decision(self.iteration, candidate["id"], round_,
                                        decision.to_dict(), saved,
                                        self._message(candidate, decision, saved))
            if decision.outcome == racing.BELOW:
                self.ledger.event("racing", self._message(candidate, decision, saved))
                return running
        return []

    def _values_by_replica(self, candidate: dict) -> dict[int, float]:
        return {r["replica"]: r["objective"] for r in self.ledger.results(candidate["id"], "md")
                if r["objective"] is not None}

    def _message(self, candidate: dict, decision: racing.Decision, saved: float) -> str:
        where = f"at {decision.n_replicas} replicas"
        if decision.production_ps < self.production_ps:
            where += f" ({decision.production_ps / 1000:g} ns of production)"
        if decision.outcome == "continue":
            return (f"{candidate['smiles']}: undecided {where} (t = {decision.statistic:.3g}, "
                    f"bound +-{decision.threshold:.3g}); one more replica")
        return (f"{candidate['smiles']}: stopped: {decision.outcome} the reference {where} "
                f"(t = {decision.statistic:.3g}, bound {decision.threshold:.3g}); "
                f"{saved:.3g} ns of MD saved")


def md_usage(ledger) -> dict:
    """MD nanoseconds a campaign used, against what the fixed protocol would use.

    Per iteration: ``used_ns`` sums, over its MD replica runs, the equilibration and the
    production each simulated (a run stopped early counts its production up to the stop);
    ``fixed_ns`` is every MD-evaluated candidate (and, in iteration 1, the reference) times
    the planned replicas times a whole replica.
    """
    from polyhpc.config import load_config
    from polyhpc.md.protocol import equilibration_stages
    from polyhpc.md.settings import Protocol

    settings = (ledger.meta("identity") or {}).get("md_protocol", {}).get("settings")
    if not settings:
        return {"iterations": [], "used_ns": 0.0, "fixed_ns": 0.0, "fraction": None}
    protocol = load_config(settings, Protocol)
    eq_ns = sum(s.duration_ps for s in equilibration_stages(protocol)) / 1000.0
    whole = eq_ns + protocol.production_ps / 1000.0
    rows = []
    for row in ledger.iterations():
        it = row["iteration"]
        tasks = ledger.tasks("md", iteration=it)
        used = sum(eq_ns + ((t["info"] or {}).get("production_ps") or 0.0) / 1000.0
                   for t in tasks if t["status"] in ("done", "failed", "running"))
        evaluated = {t["candidate_id"] for t in tasks}
        fixed = len(evaluated) * protocol.replicas * whole
        rows.append({"iteration": it, "used_ns": used, "fixed_ns": fixed,
                     "fraction": used / fixed if fixed else None})
    used = sum(r["used_ns"] for r in rows)
    fixed = sum(r["fixed_ns"] for r in rows)
    return {"iterations": rows, "used_ns": used, "fixed_ns": fixed,
            "fraction": used / fixed if fixed else None}
