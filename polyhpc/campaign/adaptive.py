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
            n = self.wanted(candidate)
            decision = racing.decide(self._values(candidate), [], self.production_ps,
                                     reference_values, pool, self.config, self.replicas,
                                     self.production_ps, self.context.min_replicas)
            saved = (self.replicas - n) * self.per_replica_ns \
                if decision.outcome != "continue" else 0.0
            self.ledger.record_decision(self.iteration, candidate["id"],
                                        n - self.config.first_round + 1, decision.to_dict(),
                                        saved, self._message(candidate, decision, saved))
            if decision.outcome == "continue" and n < self.replicas:
                start.append((candidate, n))
            elif decision.outcome != "continue":
                self.ledger.event("racing", self._message(candidate, decision, saved))
        return start

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
