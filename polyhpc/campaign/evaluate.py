"""Evaluating candidates: the context evaluators work in, objectives, replica aggregates.

Three evaluators (``evaluator.kind``), each built from an
:class:`EvaluationContext` by :func:`make_evaluator`:

- ``md`` (:class:`polyhpc.campaign.md_evaluator.MdEvaluator`): every candidate
  and the reference run their MD replicas (build, 14-stage equilibration,
  production, analysis); a replica whose LAMMPS run fails is retried with a
  new seed up to ``md.retries`` times;
- ``surrogate`` (:class:`polyhpc.campaign.surrogate_evaluator.SurrogateEvaluator`):
  the surrogate's prediction is the result, labelled ``surrogate`` everywhere
  (ledger, report, feedback);
- ``surrogate+md`` (:class:`~polyhpc.campaign.surrogate_evaluator.SurrogateMdEvaluator`):
  the surrogate scores every candidate, its acquisition (UCB with a diversity
  filter) picks ``md_top_k`` of them for MD.

The objective is the conductivity (S/cm) or the efficacy, conductivity
times the cation transference number (paper, Outlook).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.analysis.replicas import aggregate_properties, replica_statistics
from polyhpc.analysis.results import UNITS
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


def _defined(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def aggregate(results: list[dict], n_replicas: int, objective: str,
              min_replicas: int = 1) -> dict:
    """Replica mean and sample std (ddof=1) of every property and of the objective.

    The same aggregation as ``polyhpc analyze A B ...``
    (:func:`polyhpc.analysis.replicas.aggregate_properties`, whose NaN policy is
    :data:`polyhpc.analysis.replicas.NAN_POLICY`): a property undefined in a replica
    is averaged over the others, and ``n`` counts them. ``n_finished`` counts replicas
    with a result. The status is ``ok`` with at least ``min_replicas`` finished replicas
    and a defined objective, ``incomplete`` with fewer (never a winner, never fed back),
    ``failed`` with none.
    """
    mean, std, count = aggregate_properties([r["properties"] for r in results])
    objective_mean, objective_std, _ = replica_statistics([r["objective"] for r in results])
    finished = len(results)
    if not finished or _defined(objective_mean) is None:
        status = "failed"
    else:
        status = "ok" if finished >= min_replicas else "incomplete"
    return {"objective": objective, "n_replicas": n_replicas, "n_finished": finished,
            "objective_mean": _defined(objective_mean),
            "objective_std": _defined(objective_std),
            "conductivity_mean": _defined(mean["conductivity"]),
            "conductivity_std": _defined(std["conductivity"]),
            "mean": {k: _defined(v) for k, v in mean.items()},
            "std": {k: _defined(v) for k, v in std.items()}, "n": count, "status": status}


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


# ---------------------------------------------------------------------------- context
#: Seed streams of a campaign (one SeedSequence entry each).
STREAMS = {"train": 1, "sample": 2, "md": 3, "surrogate": 4}


@dataclass(frozen=True)
class SeedStreams:
    """The campaign's independent seed streams: ``seed("md", candidate, attempt)``."""

    seed_value: int

    def seed(self, stream: str, *keys: int) -> int:
        """A seed of ``stream`` for ``keys`` (iteration, candidate, attempt)."""
        state = np.random.SeedSequence([self.seed_value, STREAMS[stream], *keys])
        return int(state.generate_state(1)[0] % (2**31 - 1))


class Budget:
    """The campaign's limits besides its iterations: MD replica runs and hours.

    ``exhausted`` turns true (and the ledger gets a ``budget`` event) the first time a
    limit is found spent; the loop then stops after the current stage and leaves the
    iteration open.
    """

    def __init__(self, ledger, max_hours: float | None = None,
                 max_md_replicas: int | None = None):
        self.ledger = ledger
        self.max_hours = max_hours
        self.max_md_replicas = max_md_replicas
        self.exhausted = False

    def _spend(self, message: str) -> None:
        if not self.exhausted:
            self.ledger.event("budget", message)
        self.exhausted = True

    def time_spent(self) -> bool:
        """Whether the time budget is spent (a killed run counts until it was last seen)."""
        if self.max_hours is None:
            return self.exhausted
        now = time.time()
        spent = sum((r["ended_at"] or now) - r["started_at"] for r in self.ledger.runs())
        if spent / 3600.0 >= self.max_hours:
            self._spend(f"time budget of {self.max_hours} h spent")
        return self.exhausted

    def allows_replica(self) -> bool:
        """Whether one more MD replica run may start (time and replica-run budgets)."""
        if self.time_spent():
            return False
        limit = self.max_md_replicas
        if limit is not None and len(self.ledger.tasks("build")) >= limit:
            self._spend(f"MD budget of {limit} replica runs spent")
            return False
        return True


@dataclass
class EvaluationContext:
    """What an evaluator works with, and nothing more of the campaign.

    Attributes
    ----------
    ledger : polyhpc.campaign.store.Ledger
    scheduler : polyhpc.campaign.scheduler.Scheduler
    config : polyhpc.campaign.config.CampaignConfig
    protocol : polyhpc.md.settings.Protocol
        The campaign's MD protocol (its ``replicas`` the campaign's).
    frc : Path
        The force-field file, whose sha256 is ``frc_sha256`` (the campaign's identity).
    seeds : SeedStreams
    budget : Budget
    """

    ledger: object
    scheduler: object
    config: object
    protocol: object
    frc: Path
    frc_sha256: str
    seeds: SeedStreams
    budget: Budget

    @property
    def folder(self) -> Path:
        """The campaign folder (where the ledger is)."""
        return self.ledger.folder

    @property
    def replicas(self) -> int:
        """Replicas planned per candidate."""
        return self.protocol.replicas

    @property
    def min_replicas(self) -> int:
        """Finished replicas a candidate needs to count as evaluated."""
        return self.config.md.required_replicas(self.replicas)


class Evaluator:
    """What every evaluator works with: its context's ledger, scheduler and config."""

    def __init__(self, context: EvaluationContext):
        self.context = context
        self.ledger = context.ledger
        self.scheduler = context.scheduler
        self.config = context.config

    def evaluate(self, it: int, candidates: list[dict], reference: dict) -> None:
        """Evaluate ``candidates`` of iteration ``it`` and, once per campaign, ``reference``."""
        raise NotImplementedError


def make_evaluator(context: EvaluationContext):
    """The evaluator of ``context.config.evaluator.kind``."""
    from polyhpc.campaign.md_evaluator import MdEvaluator
    from polyhpc.campaign.surrogate_evaluator import SurrogateEvaluator, SurrogateMdEvaluator

    kinds = {"md": MdEvaluator, "surrogate": SurrogateEvaluator,
             "surrogate+md": SurrogateMdEvaluator}
    return kinds[context.config.evaluator.kind](context)
