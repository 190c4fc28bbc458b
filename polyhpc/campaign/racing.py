"""Adaptive MD: replica racing against the reference, with production early stop.

The fixed protocol gives every candidate R replicas of the whole production
(the paper: 5 x 11.05 ns). Racing spends them in rounds: every candidate
starts with ``first_round`` replicas; after each round, and at production
checkpoints inside a round, the candidate is compared with the reference
(PEO, which always gets all its replicas: the yardstick of the campaign); when
the evidence says, at the configured error rate, that it is below (or above)
the reference, it gets no more MD.

Statistical model
-----------------
Replica j of polymer i gives ``y_ij = log10(sigma_ij)``, with
``y_ij ~ N(mu_i, s^2)``: one replica spread ``s`` for every polymer (the paper:
replica standard deviations about 20 % of the mean, section 4.1, i.e. constant
on the log scale). ``s^2`` is pooled (within-polymer sums of squares over their
degrees of freedom) over the reference's replicas and every candidate with at
least two finished replicas *before* the iteration (in iteration 1, which has
none, over the reference and the iteration's first round once all of it has
finished), plus ``prior_dof`` pseudo-degrees of freedom at ``prior_cv``; it is
frozen for the iteration, so a decision never depends on which other runs
happened to finish first. A candidate's estimate is the inverse-variance mean
of its replicas: a finished replica has variance ``s^2``, a partial one
(``p`` of ``T`` ps of production) ``s^2 T / p``. The test statistic

    t = (ybar_c - ybar_ref) / (s sqrt(1 / w_c + 1 / n_ref)),  w_c = sum_j p_j / T

is compared with Student's t quantile at ``nu`` degrees of freedom. A decision
"below the reference" needs ``t < -q``, "above" ``t > q``, with
``q = t_{1 - alpha / K, nu}``: ``K`` counts every look at the candidate
(rounds x checkpoints) and every allowed direction, so by the union bound the
probability that a candidate gets a wrong early decision (stopped as below
although its true mean is not below the reference's, or above although it is
not above) is at most ``error_rate`` whatever the looks.

Partial productions: the endpoint-MSD conductivity of a short production is
biased *upwards* where the ions move sub-diffusively (the study in
``analysis/adaptive/``), so a partial value is only ever used for "below"
decisions (it can only make them rarer), and only from ``min_production_ps``
on. "Above" decisions use finished replicas only, and a candidate stopped as
above still has at least ``md.min_replicas`` finished replicas, so it can win.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

BELOW = "below"
ABOVE = "above"


@dataclass(frozen=True)
class AdaptiveConfig:
    """Replica racing and production early stop (``md.adaptive`` of a campaign config)."""

    #: replicas every candidate starts with (then one more per undecided round)
    first_round: int = field(default=2, metadata={"min": 1, "max": 100})
    #: probability that a candidate gets a wrong early decision, over all its looks
    error_rate: float = field(default=0.05, metadata={"min": 0.0, "min_open": True,
                                                      "max": 0.5, "max_open": True})
    #: early decisions allowed: below the reference, and/or above it
    decide: tuple[str, ...] = (BELOW,)
    #: production checkpoints (ps) at which a partial trajectory is analyzed
    check_every_ps: float = field(default=1000.0, metadata={"min": 1.0})
    #: partial productions shorter than this are never used for a decision
    min_production_ps: float = field(default=2000.0, metadata={"min": 0.0})
    #: prior on the replica spread: pseudo-degrees of freedom at a relative std of prior_cv
    prior_cv: float = field(default=0.2, metadata={"min": 0.0, "min_open": True, "max": 5.0})
    prior_dof: float = field(default=0.0, metadata={"min": 0.0, "max": 1000.0})
    #: a conductivity at or below this fraction of the reference's counts as this fraction
    #: (log10 of 0 is undefined; such a replica is far below whatever the floor)
    floor_fraction: float = field(default=1e-3, metadata={"min": 1e-9, "min_open": True,
                                                          "max": 0.5})

    def __post_init__(self):
        bad = [d for d in self.decide if d not in (BELOW, ABOVE)]
        if bad or not self.decide:
            raise ValueError(f"decide: {list(self.decide)} must be a non-empty list of "
                             f"{BELOW!r} and {ABOVE!r}")


@dataclass(frozen=True)
class Pool:
    """A frozen estimate of the replica spread on the log10 scale: ``s2`` with ``dof``."""

    s2: float
    dof: float

    @property
    def s(self) -> float:
        """The spread (log10 units)."""
        return math.sqrt(self.s2)


def to_log(values, reference_mean: float, floor_fraction: float) -> np.ndarray:
    """log10 of conductivities, floored at ``floor_fraction`` x the reference mean."""
    values = np.asarray(values, float)
    floor = max(reference_mean, 1e-300) * floor_fraction
    return np.log10(np.maximum(values, floor))


def pooled_variance(replica_sets: list[list[float]], prior_cv: float = 0.2,
                    prior_dof: float = 0.0) -> Pool:
    """Pooled within-set variance of log10 values, with optional prior pseudo-observations.

    Sets with fewer than two values carry no spread; sets with a non-positive value are
    left out (log10 of 0). The prior adds ``prior_dof`` degrees of freedom at
    ``log10(1 + prior_cv)``² (a relative std ``prior_cv``).
    """
    ss, dof = 0.0, 0.0
    for values in replica_sets:
        values = np.asarray(values, float)
        if len(values) < 2 or np.any(values <= 0) or not np.all(np.isfinite(values)):
            continue
        logs = np.log10(values)
        ss += float(((logs - logs.mean()) ** 2).sum())
        dof += len(logs) - 1
    s0 = math.log10(1.0 + prior_cv)
    ss += prior_dof * s0**2
    dof += prior_dof
    if dof <= 0:
        return Pool(s0**2, 0.0)
    return Pool(ss / dof, dof)


def looks(config: AdaptiveConfig, max_replicas: int, production_ps: float) -> int:
    """How many looks at a candidate can stop it (the Bonferroni divisor of the error rate).

    Every round's partial checkpoints, and every round's end but the last (once all
    replicas have finished, stopping saves nothing), for each allowed direction.
    """
    rounds = max(1, max_replicas - config.first_round + 1)
    partial = len(checkpoints_ps(config, production_ps)) - 1
    return max(1, rounds * partial + rounds - 1) * len(config.decide)


def checkpoints_ps(config: AdaptiveConfig, production_ps: float) -> list[float]:
    """Production lengths at which a round is looked at: partial ones, then the end."""
    points = []
    p = config.check_every_ps
    while p < production_ps - 1e-9:
        if p >= config.min_production_ps - 1e-9:
            points.append(round(p, 6))
        p += config.check_every_ps
    return points + [float(production_ps)]


#: Simulated races under the null hypothesis that calibrate the sequential bound.
SIMULATIONS = 200000


@functools.lru_cache(maxsize=64)
def boundaries(config: AdaptiveConfig, max_replicas: int, production_ps: float,
               min_replicas: int, dof: float, n_reference: int) -> dict:
    """The bound ``q`` on the t statistic per direction: ``P(any look crosses) = alpha``.

    Calibrated by simulating races of a candidate whose true mean equals the reference's
    (fixed seed, :data:`SIMULATIONS` races), on the model of the module docstring: replica
    j's value after ``p`` of ``T`` ps of production is ``mu + s sqrt(T) b_j(p) / p`` for a
    standard Brownian motion ``b_j`` (a partial value has variance ``s^2 T / p``, and later
    values refine earlier ones), the reference mean ``mu + s e / sqrt(n_ref)``, and the
    pooled spread ``s`` estimated with ``dof`` degrees of freedom. Every look that can stop a
    candidate counts (partial checkpoints in every round, round ends but the last), so the
    probability of a wrong early decision over the whole race is ``error_rate`` (split
    evenly between the two directions when both are allowed) under the model. A one-look
    race gives Student's t quantile.
    """
    from scipy import stats

    rng = np.random.default_rng(20260419)
    sims, total = SIMULATIONS, production_ps
    points = checkpoints_ps(config, total)
    alpha = config.error_rate / len(config.decide)
    # Brownian paths of every replica at the checkpoints: (sims, replicas, points)
    gaps = np.diff([0.0, *points])
    steps = rng.standard_normal((sims, max_replicas, len(points))) * np.sqrt(gaps)
    values = np.sqrt(total) * np.cumsum(steps, axis=2) / np.asarray(points)
    reference = rng.standard_normal(sims) / math.sqrt(n_reference)
    scale = np.sqrt(rng.chisquare(dof, sims) / dof) if math.isfinite(dof) and dof > 0 \
        else np.ones(sims)
    lowest = np.full(sims, np.inf)
    highest = np.full(sims, -np.inf)
    done = 0
    launched = min(config.first_round, max_replicas)
    while True:
        for k, p in enumerate(points):
            end = k == len(points) - 1
            if end and launched >= max_replicas:
                break
            finished = values[:, :done, -1]
            running = values[:, done:launched, k]
            weight = done + (launched - done) * (1.0 if end else p / total)
            total_value = finished.sum(axis=1) + running.sum(axis=1) * (1.0 if end else p / total)
            t_value = (total_value / weight - reference) / (
                scale * math.sqrt(1.0 / weight + 1.0 / n_reference))
            lowest = np.minimum(lowest, t_value)
            if end and launched >= min_replicas:
                highest = np.maximum(highest, t_value)
        if launched >= max_replicas:
            break
        done = launched
        launched += 1
    if not np.isfinite(lowest).any():  # a single look at a single round: Student's t
        q = float(stats.t.ppf(1.0 - alpha, dof)) if math.isfinite(dof) and dof > 0 else \
            float(stats.norm.ppf(1.0 - alpha))
        return {BELOW: q, ABOVE: q}
    out = {BELOW: float(np.quantile(-lowest, 1.0 - alpha))}
    out[ABOVE] = float(np.quantile(highest, 1.0 - alpha)) if np.isfinite(highest).any() \
        else math.inf
    return out


@dataclass(frozen=True)
class Decision:
    """One look at a candidate: the estimate, the bound it was held against, the outcome.

    ``outcome`` is ``below`` or ``above`` (stop: decided) or ``continue``.
    """

    outcome: str
    n_replicas: int
    production_ps: float
    estimate_log10: float
    reference_log10: float
    statistic: float
    threshold: float
    bound_log10: float
    rule: str

    def to_dict(self) -> dict:
        """Plain data (the ledger's decision row)."""
        return {"outcome": self.outcome, "n_replicas": self.n_replicas,
                "production_ps": self.production_ps, "estimate_log10": self.estimate_log10,
                "reference_log10": self.reference_log10, "statistic": self.statistic,
                "threshold": self.threshold, "bound_log10": self.bound_log10,
                "rule": self.rule}


def decide(finished: list[float], partial: list[float], production_ps: float,
           reference: list[float], pool: Pool, config: AdaptiveConfig, max_replicas: int,
           total_production_ps: float, min_replicas: int) -> Decision:
    """Look at a candidate: decide below, above, or continue.

    Parameters
    ----------
    finished : list of float
        Conductivities (S/cm) of its finished replicas.
    partial : list of float
        Conductivities of its running replicas at ``production_ps`` of production
        (empty at a round's end).
    reference : list of float
        The reference's finished replicas (all of them).
    pool : Pool
        The frozen replica spread.
    """
    ref_mean = float(np.mean(reference))
    ref_logs = to_log(reference, ref_mean, config.floor_fraction)
    y_ref = float(ref_logs.mean())
    logs = list(to_log(finished, ref_mean, config.floor_fraction))
    weights = [1.0] * len(logs)
    fraction = production_ps / total_production_ps
    logs += list(to_log(partial, ref_mean, config.floor_fraction))
    weights += [fraction] * len(partial)
    w = float(sum(weights))
    n = len(finished) + len(partial)
    n_ref = len(ref_logs)
    thresholds = boundaries(config, max_replicas, total_production_ps, min_replicas,
                            round(pool.dof, 6), n_ref)
    threshold = thresholds[BELOW]
    if w <= 0:
        return Decision("continue", n, production_ps, math.nan, y_ref, math.nan, threshold,
                        math.nan, "no replica value yet")
    estimate = float(np.dot(weights, logs) / w)
    se = pool.s * math.sqrt(1.0 / w + 1.0 / len(ref_logs))
    statistic = (estimate - y_ref) / se if se > 0 else math.copysign(math.inf,
                                                                     estimate - y_ref)
    rule = (f"one-sided t on log10 conductivity, pooled s = {pool.s:.3g} ({pool.dof:g} dof), "
            f"sequential bound for error rate {config.error_rate:g} over "
            f"{looks(config, max_replicas, total_production_ps)} looks")
    if BELOW in config.decide and statistic < -threshold:
        return Decision(BELOW, n, production_ps, estimate, y_ref, statistic, threshold,
                        estimate + threshold * se, rule)
    if ABOVE in config.decide and not partial and statistic > thresholds[ABOVE] \
            and len(finished) >= min_replicas:
        return Decision(ABOVE, n, production_ps, estimate, y_ref, statistic,
                        thresholds[ABOVE], estimate - thresholds[ABOVE] * se, rule)
    return Decision("continue", n, production_ps, estimate, y_ref, statistic, threshold,
                    estimate + threshold * se, rule)


# ---------------------------------------------------------------------------- races
@dataclass(frozen=True)
class ReplicaValues:
    """What one replica gives: its final conductivity and its partial ones by production ps."""

    final: float
    partial: dict = field(default_factory=dict)

    def at(self, production_ps: float, total_ps: float) -> float:
        """The value at ``production_ps`` (the final one at the end)."""
        if production_ps >= total_ps - 1e-9:
            return self.final
        return self.partial[round(production_ps, 6)]


@dataclass
class Race:
    """How racing went for one candidate: its looks, what it ran, how it ended."""

    decisions: list[Decision] = field(default_factory=list)
    started: int = 0
    finished: list[float] = field(default_factory=list)
    production_ps: float = 0.0  # production simulated, summed over its replicas
    outcome: str = "complete"  # below / above / complete (every replica ran)

    def md_ns(self, equilibration_ps: float) -> float:
        """MD nanoseconds spent: equilibration of every started replica plus production."""
        return (self.started * equilibration_ps + self.production_ps) / 1000.0


def race_candidate(replicas: list[ReplicaValues], reference: list[float], pool: Pool,
                   config: AdaptiveConfig, max_replicas: int, production_ps: float,
                   min_replicas: int, partial_in_first_round: bool = True) -> Race:
    """Race one candidate offline, as the campaign does online (replay and tests).

    Rounds: ``first_round`` replicas, then one more at a time up to ``max_replicas``;
    each round is looked at every checkpoint (:func:`checkpoints_ps`; only at its end in
    the first round when ``partial_in_first_round`` is False: iteration 1, whose pool is
    frozen once its first round has finished).
    """
    race = Race()
    launched = min(config.first_round, max_replicas)
    done = 0
    while True:
        running = replicas[done:launched]
        race.started = launched
        points = checkpoints_ps(config, production_ps)
        if done == 0 and not partial_in_first_round:
            points = points[-1:]
        for p in points:
            end = p >= production_ps - 1e-9
            values = [r.at(p, production_ps) for r in running]
            finished = race.finished + (values if end else [])
            if end and launched >= max_replicas:  # every replica ran: nothing left to save
                race.production_ps += p * len(running)
                race.finished = finished
                return race
            decision = decide(finished, [] if end else values, p, reference, pool, config,
                              max_replicas, production_ps, min_replicas)
            race.decisions.append(decision)
            if decision.outcome != "continue" or end:
                race.production_ps += p * len(running)
                if end:
                    race.finished = finished
                if decision.outcome != "continue":
                    race.outcome = decision.outcome
                    return race
                break
        done = launched
        if launched >= max_replicas:
            return race
        launched += 1


def winners(races: dict, reference_mean: float, min_replicas: int) -> set:
    """Keys of the candidates that beat the reference: the feedback rule on raced results."""
    return {key for key, race in races.items()
            if race.outcome != BELOW and len(race.finished) >= min_replicas
            and float(np.mean(race.finished)) > reference_mean}
