"""What a campaign will cost: MD nanoseconds, core- or GPU-hours, wall time, SLURM blocks.

From the config (iterations, candidates, replicas, the MD profile's stage
lengths) and a measured LAMMPS rate (``polyhpc bench md`` writes one; a GPU
rate can be given), :func:`plan_campaign` estimates the MD work and how long
it takes on N GPUs or on CPU cores. Assumptions are stated in the result:
every replica runs once (retries add to it), MD dominates (training and
analysis are added as given), and a replica longer than a block's walltime
continues in the next block from its restart files.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from polyhpc.campaign.config import BATCH_SITES, CampaignConfig, walltime_seconds
from polyhpc.errors import ConfigError


def md_replicas_per_iteration(config: CampaignConfig, replicas: int) -> list[int]:
    """MD replica runs of each iteration (the reference's in iteration 1)."""
    e = config.evaluator
    per = {"md": config.sampling.n, "surrogate+md": min(e.md_top_k, config.sampling.n),
           "surrogate": 0}[e.kind]
    reference = 1 if e.kind != "surrogate" else 0
    return [replicas * (per + (reference if it == 1 else 0))
            for it in range(1, config.iterations + 1)]


def read_rate(source: str | float) -> float:
    """ns/day from a number or the ``report.json`` that ``polyhpc bench md`` writes."""
    try:
        value = float(source)
    except (TypeError, ValueError):
        path = Path(str(source))
        try:
            report = json.loads(path.read_text())
            value = float(report["polyhpc"]["ns_per_day"])
        except FileNotFoundError:
            raise ConfigError(f"--rate {path}: no such file; run `polyhpc bench md` (it writes "
                              ".polyhpc-bench/md/report.json) or give a number in ns/day") \
                from None
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"--rate {path}: not a `polyhpc bench md` report") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"--rate: {value} ns/day is not a positive speed")
    return value


#: The expected MD of ``campaign-paper-adaptive.yaml``'s policy, as a fraction of the fixed
#: protocol's: its replay on the synthetic campaign of the paper's own numbers
#: (``python analysis/adaptive/paper_campaign.py --seeds 200``: 0.491). A stated prior; a
#: replay of the user's own finished work (``--replay``) replaces it.
PRIOR_MD_FRACTION = 0.49


def read_replay(path: str | Path) -> float:
    """The adaptive ``md_fraction`` of a ``polyhpc campaign replay --json`` file."""
    path = Path(path)
    try:
        value = float(json.loads(path.read_text())["adaptive"]["md_fraction"])
    except FileNotFoundError:
        raise ConfigError(f"--replay {path}: no such file; write one with `polyhpc campaign "
                          "replay ... --json > FILE`") from None
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"--replay {path}: not a `polyhpc campaign replay --json` result") \
            from None
    if not 0 < value <= 1:
        raise ConfigError(f"--replay {path}: md_fraction {value} is not in (0, 1]")
    return value


def plan_campaign(config: CampaignConfig, ns_per_day: float, gpus: int = 0,
                  runs_per_gpu: int | None = None, train_hours: float = 0.25,
                  md_fraction: float | None = None) -> dict:
    """Estimate a campaign's MD work, resources and wall time.

    Parameters
    ----------
    config : CampaignConfig
    ns_per_day : float
        Speed of ONE replica run (LAMMPS ns/day: measured on CPU with ``md.threads``
        threads, or on a GPU share when ``gpus`` > 0).
    gpus : int
        GPUs to plan for (0: CPU cores, ``md.threads x md.mpi_ranks`` per replica).
    runs_per_gpu : int, optional
        Replicas sharing one GPU (default: the site's ``runs_per_gpu``).
    train_hours : float
        Wall time of one generator training, added to every iteration.
    """
    from polyhpc.md.protocol import equilibration_stages, load_protocol
    from polyhpc.resources import resolve_yaml

    protocol = load_protocol(resolve_yaml(config.md.profile, "md", option="md.profile"))
    replicas = config.md.replicas or protocol.replicas
    eq_ns = sum(s.duration_ps for s in equilibration_stages(protocol)) / 1000.0
    production_ns = protocol.production_ps / 1000.0
    per_replica_ns = eq_ns + production_ns
    runs = md_replicas_per_iteration(config, replicas)
    fixed_ns = sum(runs) * per_replica_ns
    adaptive = config.md.adaptive is not None
    fraction = (md_fraction or PRIOR_MD_FRACTION) if adaptive else 1.0
    # racing runs fewer replica-equivalents; count them as whole runs of the fixed length
    runs = [max(1, round(n * fraction)) for n in runs] if adaptive else runs
    total_ns = fixed_ns * fraction
    replica_hours = per_replica_ns / ns_per_day * 24.0
    site = config.site
    assumptions = ["every replica runs once: failed runs retried with new seeds add to this",
                   f"one replica run advances at {ns_per_day:g} ns/day"
                   + (f", {runs_per_gpu or site.runs_per_gpu} runs sharing each GPU"
                      if gpus else ""),
                   f"{train_hours:g} h of generator training per iteration; analysis and "
                   "sampling are minutes and left out"]
    if adaptive:
        source = ("the replay given (--replay)" if md_fraction else
                  "a stated prior: the replay of the paper's numbers, "
                  "analysis/adaptive/paper_campaign.py")
        assumptions.insert(0, f"adaptive MD (md.adaptive): {fraction:.2f} of the fixed "
                              f"protocol's {fixed_ns:.4g} ns, from {source}")
    cores = config.md.threads * config.md.mpi_ranks
    batch = site.kind in BATCH_SITES
    slots, resource_hours, unit, parallel_blocks = _resources(
        site, gpus, runs_per_gpu, cores, sum(runs) * replica_hours, assumptions)
    wall_hours = sum(math.ceil(n / slots) * replica_hours + train_hours for n in runs)
    if adaptive:
        # racing runs its rounds one after another: at least that many replica times
        rounds = replicas - config.md.adaptive.first_round + 1
        wall_hours = max(wall_hours, config.iterations * (rounds * replica_hours + train_hours))
        assumptions.append(f"racing runs up to {rounds} rounds one after another in each "
                           "iteration")
    plan = {
        "iterations": config.iterations, "replicas_per_candidate": replicas,
        "replica_runs_per_iteration": runs, "replica_runs": sum(runs),
        "md_profile": protocol.name, "equilibration_ns": eq_ns, "production_ns": production_ns,
        "ns_per_replica": per_replica_ns, "md_ns_total": total_ns,
        "md_ns_fixed_protocol": fixed_ns, "md_fraction": fraction,
        "ns_per_day_per_run": ns_per_day, "hours_per_replica": replica_hours,
        "gpus": gpus, "parallel_runs": slots, "resource_hours": resource_hours,
        "resource_unit": unit, "wall_hours": wall_hours, "site": site.kind,
        "walltime": site.walltime if batch else None, "blocks": None,
        "sequential_blocks": None, "segments_per_replica": None,
        "assumptions": assumptions,
        "units": {"md_ns_total": "ns", "md_ns_fixed_protocol": "ns", "md_fraction": "1",
                  "ns_per_replica": "ns", "equilibration_ns": "ns",
                  "production_ns": "ns", "ns_per_day_per_run": "ns/day",
                  "hours_per_replica": "h", "resource_hours": unit, "wall_hours": "h"},
    }
    if batch:
        usable_h = max(walltime_seconds(site.walltime) - site.walltime_margin_s, 60) / 3600.0
        sequential = math.ceil(wall_hours / usable_h)
        plan.update(blocks=sequential * parallel_blocks, sequential_blocks=sequential,
                    segments_per_replica=math.ceil(replica_hours / usable_h))
        assumptions.append(f"a replica longer than a block ({site.walltime} minus "
                           f"{site.walltime_margin_s} s margin) continues in the next block "
                           "from its restart file")
    return plan


def _resources(site, gpus: int, runs_per_gpu: int | None, cores: int, run_hours: float,
               assumptions: list[str]) -> tuple[int, float, str, int]:
    """Parallel replica runs, resource hours and their unit, blocks side by side."""
    if gpus > 0:
        share = runs_per_gpu or site.runs_per_gpu
        per_block = max(1, site.gpus_per_node or 1) * site.nodes_per_block
        return gpus * share, run_hours / share, "GPU-hours", math.ceil(gpus / per_block)
    node_cores = site.cores_per_node or os.cpu_count() or 1
    if site.kind == "local":
        slots = site.max_workers or max(1, node_cores // cores)
        assumptions.append(f"the local site runs {slots} replica(s) at a time "
                           + ("(site.max_workers)" if site.max_workers else
                              f"({node_cores} cores of this machine // {cores} per replica)"))
    else:
        per_node = site.max_workers or max(1, node_cores // cores)
        slots = per_node * site.nodes_per_block * site.max_blocks
        if not site.cores_per_node:
            assumptions.append(f"site.cores_per_node is not set: {node_cores} cores per "
                               "node assumed (this machine's)")
    return slots, run_hours * cores, "core-hours", site.max_blocks


def format_plan(p: dict) -> str:
    """The plan as text."""
    where = f"{p['gpus']} GPUs" if p["gpus"] else f"{p['parallel_runs']} parallel CPU runs"
    blocks = (f"; {p['blocks']} {p['site']} blocks of {p['walltime']} "
              f"({p['segments_per_replica']} segment(s) per replica)"
              if p["blocks"] is not None else f" ({p['site']} site: no batch blocks)")
    return "\n".join([
        f"{p['iterations']} iterations: {p['replica_runs']} replica runs "
        f"({', '.join(map(str, p['replica_runs_per_iteration']))} per iteration), "
        f"{p['replicas_per_candidate']} per candidate, MD profile {p['md_profile']}",
        f"per replica {p['ns_per_replica']:.3g} ns ({p['equilibration_ns']:.3g} equilibration"
        f" + {p['production_ns']:.3g} production) = {p['hours_per_replica']:.3g} h at "
        f"{p['ns_per_day_per_run']:g} ns/day",
        f"total {p['md_ns_total']:.4g} ns of MD = {p['resource_hours']:.4g} "
        f"{p['resource_unit']}" + ("" if p["md_fraction"] == 1.0 else
                                   f" (adaptive: {p['md_fraction']:.2f} of the fixed "
                                   f"protocol's {p['md_ns_fixed_protocol']:.4g} ns)"),
        f"wall time on {where}: {p['wall_hours']:.3g} h{blocks}",
        "assumptions: " + "; ".join(p["assumptions"]),
    ])
