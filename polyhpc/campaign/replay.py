"""``polyhpc campaign replay``: what an adaptive MD policy would have saved, before trusting it.

Two sources of replicas, one race (:func:`polyhpc.campaign.racing.race_candidate`,
the same decisions the campaign makes online):

- :func:`replay_folder`: a finished campaign's recorded per-replica results
  (and partial-production results, where it recorded them). Its truth is the
  fixed protocol's own outcome: ``false_winners`` are winners of the policy
  the fixed protocol did not find, ``winners_missed`` the reverse.
- :func:`replay_means`: a table of per-candidate means (S/cm), replicas drawn
  around them with a relative spread, many times. Its truth is the table:
  a true winner has a mean above the reference's.

Both report, for the policy and for the fixed protocol side by side,
``md_fraction`` (MD ns used / the fixed protocol's), ``winners_found``,
``false_winners`` and ``winners_missed`` (means over the seeds where drawn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.campaign import racing
from polyhpc.config import to_dict
from polyhpc.errors import ConfigError


@dataclass(frozen=True)
class Design:
    """What the replicas cost and how many a candidate gets (from a protocol and a config)."""

    replicas: int
    min_replicas: int
    production_ps: float
    equilibration_ps: float

    @property
    def replica_ns(self) -> float:
        """MD ns of one whole replica."""
        return (self.equilibration_ps + self.production_ps) / 1000.0


def load_policy(path: Path | str) -> tuple[racing.AdaptiveConfig, dict]:
    """An adaptive policy from YAML: a bare ``md.adaptive`` mapping, or a campaign config.

    Returns the policy and the campaign's ``md`` settings the file gives (replicas,
    min_replicas, profile), if any.

    Raises
    ------
    ConfigError
        Missing file, not a mapping, no policy in a campaign config, or a bad value.
    """
    import yaml

    from polyhpc.config import load_config

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--policy {path}: no such file") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--policy {path}: not a YAML file ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"--policy {path}: expected the md.adaptive settings (first_round, "
                          "error_rate, ...) or a campaign config that has them")
    md = {}
    if "md" in data:
        md = data.get("md") or {}
        data = md.get("adaptive")
        if not isinstance(data, dict):
            raise ConfigError(f"--policy {path}: its md section has no adaptive policy")
    try:
        return load_config(data, racing.AdaptiveConfig), md
    except ConfigError as exc:
        raise ConfigError(f"--policy {path}: md.adaptive.{exc}") from None


def _outcome(fixed_used: float, used: float, found: set, truth: set) -> dict:
    return {"md_ns": used, "md_fraction": used / fixed_used if fixed_used else None,
            "winners_found": len(found), "false_winners": len(found - truth),
            "winners_missed": len(truth - found)}


def _race_iterations(iterations: list[dict], reference: list[racing.ReplicaValues],
                     policy: racing.AdaptiveConfig, design: Design) -> tuple[dict, float]:
    """Race every candidate of every iteration as the campaign would; races and MD ns used.

    ``iterations`` is a list of {key: [ReplicaValues, ...]}. The pool of iteration 1 is
    the reference plus the first round of its candidates; later iterations pool the
    reference and every earlier candidate's replicas.
    """
    ref_final = [r.final for r in reference]
    races, used = {}, len(reference) * design.replica_ns
    earlier: list[list[float]] = []
    for index, candidates in enumerate(iterations):
        if index == 0:
            first = [[r.final for r in reps[:policy.first_round]] for reps in candidates.values()]
            pool = racing.pooled_variance([ref_final, *first], policy.prior_cv, policy.prior_dof)
        else:
            pool = racing.pooled_variance([ref_final, *earlier], policy.prior_cv,
                                          policy.prior_dof)
        for key, replicas in candidates.items():
            race = racing.race_candidate(replicas, ref_final, pool, policy, design.replicas,
                                         design.production_ps, design.min_replicas,
                                         partial_in_first_round=index > 0)
            races[key] = race
            used += race.md_ns(design.equilibration_ps)
        earlier += [[r.final for r in reps] for reps in candidates.values()]
    return races, used


def _fixed_winners(iterations: list[dict], reference_mean: float, min_replicas: int) -> set:
    return {key for candidates in iterations for key, reps in candidates.items()
            if len(reps) >= min_replicas and np.mean([r.final for r in reps]) > reference_mean}


def replay_folder(folder: Path, policy: racing.AdaptiveConfig) -> dict:
    """Replay ``policy`` on a finished campaign folder's recorded replicas.

    Raises
    ------
    ConfigError
        The folder holds no finished campaign, or no candidate has all its replicas.
    """
    from polyhpc.campaign.store import Ledger
    from polyhpc.config import load_config
    from polyhpc.md.protocol import equilibration_stages
    from polyhpc.md.settings import Protocol

    ledger = Ledger.open(folder, readonly=True)
    try:
        runs = ledger.runs()
        if not runs or runs[-1]["status"] != "finished":
            raise ConfigError(f"{folder} is not a finished campaign (its last run is "
                              f"{runs[-1]['status'] if runs else 'missing'}): replay needs "
                              "every replica's result")
        identity = ledger.meta("identity") or {}
        config = ledger.meta("config") or {}
        protocol = load_config(identity["md_protocol"]["settings"], Protocol)
        min_replicas = min(config.get("md", {}).get("min_replicas") or 3, protocol.replicas)
        design = Design(protocol.replicas, min_replicas, protocol.production_ps,
                        sum(s.duration_ps for s in equilibration_stages(protocol)))

        def replicas_of(candidate) -> list[racing.ReplicaValues]:
            partial = {}
            for row in ledger.partials(candidate["id"]):
                partial.setdefault(row["replica"], {})[round(row["production_ps"], 6)] = \
                    row["objective"]
            return [racing.ReplicaValues(r["objective"], partial.get(r["replica"], {}))
                    for r in ledger.results(candidate["id"], "md")
                    if r["objective"] is not None]

        reference_row = next(iter(ledger.candidates(role="reference")), None)
        reference = replicas_of(reference_row) if reference_row else []
        if len(reference) < 2:
            raise ConfigError(f"{folder}: the reference has fewer than 2 MD replicas")
        iterations = []
        for row in ledger.iterations():
            candidates = {(row["iteration"], c["canonical"]): replicas_of(c)
                          for c in ledger.candidates(row["iteration"], "candidate")}
            complete = {k: v for k, v in candidates.items() if len(v) == design.replicas}
            iterations.append(complete)
        if not any(iterations):
            raise ConfigError(f"{folder}: no candidate has all {design.replicas} MD replicas; "
                              "replay needs a campaign run with the fixed protocol")
    finally:
        ledger.close()
    reference_mean = float(np.mean([r.final for r in reference]))
    fixed_used = (len(reference) + sum(len(c) for c in iterations) * design.replicas) * \
        design.replica_ns
    races, used = _race_iterations(iterations, reference, policy, design)
    truth = _fixed_winners(iterations, reference_mean, design.min_replicas)
    found = racing.winners(races, reference_mean, design.min_replicas)
    return {"source": str(folder), "truth": "the fixed protocol's winners",
            "policy": to_dict(policy), "design": to_dict(design),
            "candidates": sum(len(c) for c in iterations),
            "adaptive": _outcome(fixed_used, used, found, truth),
            "fixed": _outcome(fixed_used, fixed_used, truth, truth),
            "units": {"md_ns": "ns", "md_fraction": "1"}}


def read_means(path: Path) -> list[dict]:
    """Rows of a means table (``smiles``, ``conductivity_s_per_cm``; optional columns).

    The optional columns are ``conductivity_std_s_per_cm`` and ``iteration``.

    Raises
    ------
    ConfigError
        Missing file or column, a conductivity column in another unit, a non-positive or
        non-numeric mean.
    """
    import pandas as pd

    path = Path(path)
    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise ConfigError(f"--means {path}: no such file") from None
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ConfigError(f"--means {path}: not a CSV table ({type(exc).__name__})") from None
    columns = {c.lower(): c for c in frame.columns}
    other_units = [c for c in frame.columns if "conductivity" in c.lower()
                   and c.lower() not in ("conductivity_s_per_cm", "conductivity_std_s_per_cm")]
    if "conductivity_s_per_cm" not in columns:
        hint = (f" (found {', '.join(other_units)}: give S/cm, polyhpc never converts a "
                "unit it was not told)") if other_units else ""
        raise ConfigError(f"--means {path}: needs the columns smiles and "
                          f"conductivity_s_per_cm{hint}")
    if "smiles" not in columns:
        raise ConfigError(f"--means {path}: needs the columns smiles and conductivity_s_per_cm")
    values = pd.to_numeric(frame[columns["conductivity_s_per_cm"]], errors="coerce")
    if values.isna().any() or (values <= 0).any():
        raise ConfigError(f"--means {path}: conductivity_s_per_cm must be positive numbers")
    if (values > 0.01).any():
        raise ConfigError(f"--means {path}: conductivity_s_per_cm up to {values.max():g} is not "
                          "S/cm for a polymer electrolyte (mS/cm given as S/cm?)")
    stds = pd.to_numeric(frame[columns["conductivity_std_s_per_cm"]], errors="coerce") \
        if "conductivity_std_s_per_cm" in columns else None
    iterations = frame[columns["iteration"]].astype(int) if "iteration" in columns else None
    return [{"smiles": str(frame[columns["smiles"]].iloc[k]), "mean": float(values.iloc[k]),
             "std": None if stds is None or math.isnan(stds.iloc[k]) else float(stds.iloc[k]),
             "iteration": 1 if iterations is None else int(iterations.iloc[k])}
            for k in range(len(frame))]


def _draw(rng, paths, mean: float, cv: float, n: int, policy: racing.AdaptiveConfig,
          design: Design) -> list[racing.ReplicaValues]:
    """``n`` replicas log-normal around ``mean`` (relative std ``cv``), with partial values.

    The partial values follow the races' model (:func:`polyhpc.campaign.racing.boundaries`):
    after ``p`` of ``T`` ps a replica's log value is its final one plus Brownian-bridge
    noise of variance ``s^2 (T / p - 1)``, unbiased: the conservative case (a real partial
    value is biased upwards, which only makes "below" decisions rarer). Final values come
    from ``rng`` and partial paths from ``paths``, so every policy sees the same finals.
    """
    sigma = math.sqrt(math.log(1.0 + cv * cv))
    points = racing.checkpoints_ps(policy, design.production_ps)[:-1]
    total = design.production_ps
    out = []
    for _ in range(n):
        z = rng.standard_normal()
        final = mean * math.exp(sigma * z - sigma * sigma / 2)
        # a free Brownian path W at the checkpoints and at T, pinned to b(T) = z sqrt(T)
        times = [*points, total]
        free = np.cumsum(np.sqrt(np.diff([0.0, *times])) * paths.standard_normal(len(times)))
        bridge = free - np.asarray(times) / total * (free[-1] - z * math.sqrt(total))
        partial = {round(p, 6): final * math.exp(sigma * (math.sqrt(total) * b / p - z))
                   for p, b in zip(points, bridge[:-1], strict=True)}
        out.append(racing.ReplicaValues(final, partial))
    return out


def replay_means(rows: list[dict], reference_mean: float, replica_cv: float, seeds: int,
                 policy: racing.AdaptiveConfig, design: Design, seed: int = 0) -> dict:
    """Replay ``policy`` on synthetic replicas drawn around a table of means, ``seeds`` times."""
    if not rows:
        raise ConfigError("--means: the table has no rows")
    rng = np.random.default_rng(seed)
    paths = np.random.default_rng([seed, 1])
    by_iteration = sorted({r["iteration"] for r in rows})
    truth = {(r["iteration"], k) for k, r in enumerate(rows) if r["mean"] > reference_mean}
    tallies = {"adaptive": [], "fixed": []}
    for _ in range(seeds):
        reference = _draw(rng, paths, reference_mean, replica_cv, design.replicas, policy,
                          design)
        iterations = []
        for it in by_iteration:
            iterations.append({(it, k): _draw(rng, paths, r["mean"], (r["std"] / r["mean"])
                                               if r["std"] else replica_cv, design.replicas,
                                               policy, design)
                               for k, r in enumerate(rows) if r["iteration"] == it})
        drawn_reference = float(np.mean([r.final for r in reference]))
        fixed_used = (len(reference) + len(rows) * design.replicas) * design.replica_ns
        races, used = _race_iterations(iterations, reference, policy, design)
        tallies["adaptive"].append(_outcome(fixed_used, used, racing.winners(
            races, drawn_reference, design.min_replicas), truth))
        tallies["fixed"].append(_outcome(fixed_used, fixed_used, _fixed_winners(
            iterations, drawn_reference, design.min_replicas), truth))
    mean = {side: {key: float(np.mean([t[key] for t in rows_])) for key in rows_[0]}
            for side, rows_ in tallies.items()}
    return {"source": "synthetic replicas around a table of means", "seeds": seeds,
            "truth": "the table: a true winner's mean is above the reference mean",
            "reference_mean_S_per_cm": reference_mean, "replica_cv": replica_cv,
            "true_winners": len(truth), "candidates": len(rows), "policy": to_dict(policy),
            "design": to_dict(design), **mean, "units": {"md_ns": "ns", "md_fraction": "1",
                                                          "reference_mean_S_per_cm": "S/cm"}}


def format_replay(report: dict) -> str:
    """The replay as text: the policy and the fixed protocol side by side."""
    lines = [f"replay of {report['source']} ({report.get('seeds', 1)} seed(s)); truth: "
             f"{report['truth']}", "                      adaptive    fixed protocol"]
    for key, label in (("md_fraction", "MD used / fixed"), ("winners_found", "winners found"),
                       ("false_winners", "false winners"),
                       ("winners_missed", "winners missed")):
        a, f = report["adaptive"][key], report["fixed"][key]
        lines.append(f"  {label:<18} {a:>9.3g}    {f:>9.3g}")
    p = report["policy"]
    lines.append(f"policy: first round {p['first_round']}, error rate {p['error_rate']}, "
                 f"decide {', '.join(p['decide'])}, checkpoints every {p['check_every_ps']:g} "
                 f"ps from {p['min_production_ps']:g} ps")
    return "\n".join(lines)
