"""Where a campaign stands, read from its ledger alone.

The driver's progress line and ``polyhpc campaign status`` print the same
:func:`snapshot`, so the status of a campaign can be read at any time, also
from another shell while the driver runs (SQLite WAL lets readers in).
"""

from __future__ import annotations

import os
import socket
import time
from collections import Counter

from polyhpc.campaign.store import Ledger

_QUEUED = ("pending", "submitted")


def _alive(run: dict) -> bool:
    """Whether a run marked running still has its driver (same host only; else assumed)."""
    if run["status"] != "running":
        return False
    if run["host"] != socket.gethostname():
        return True
    try:
        os.kill(int(run["pid"]), 0)
    except (OSError, TypeError, ValueError):
        return False
    return True


def snapshot(ledger: Ledger) -> dict:
    """Progress of a campaign: iteration, stage, candidates, MD replicas, time, winners."""
    config = ledger.meta("config") or {}
    runs = ledger.runs()
    now = time.time()
    elapsed = sum((r["ended_at"] or (now if _alive(r) else r["last_seen"] or r["started_at"]))
                  - r["started_at"] for r in runs)
    iterations = ledger.iterations()
    current = next((i for i in iterations if i["status"] != "done"),
                   iterations[-1] if iterations else None)
    from polyhpc.campaign.adaptive import md_usage
    from polyhpc.campaign.fidelity import campaign_sources

    sources = campaign_sources(ledger)
    source = sources["source"]
    md = Counter(t["status"] for t in ledger.tasks("md"))
    analyses = Counter(t["status"] for t in ledger.tasks("analyze"))
    winners = Counter(f["iteration"] for f in ledger.feedback() if f["role"] == "winner")
    per_iteration = []
    for row in iterations:
        it = row["iteration"]
        candidates = ledger.candidates(it)
        values = [a["objective_mean"] for c in candidates if c["role"] == "candidate"
                  for a in [ledger.aggregate(c["id"], source) if source else None]
                  if a and a["status"] == "ok" and a["objective_mean"] is not None]
        per_iteration.append({
            "iteration": it, "status": row["status"], "sampled": row["accepted"],
            "draws": row["draws"], "draws_per_candidate": row["draws_per_candidate"],
            "evaluated": len(values),
            "unbuildable": sum(c["status"] == "unbuildable" for c in candidates),
            "failed": sum(c["status"] == "failed" for c in candidates),
            "incomplete": sum(c["status"] == "incomplete" for c in candidates),
            "stopped": sum(c["status"] == "stopped early" for c in candidates),
            "fed_back": winners[it],
            "objective_min": min(values) if values else None,
            "objective_mean": sum(values) / len(values) if values else None,
            "objective_max": max(values) if values else None})
    last_run = runs[-1] if runs else None
    return {
        "name": config.get("name"), "folder": str(ledger.path.parent),
        "iterations_total": config.get("iterations"),
        "iteration": current["iteration"] if current else None,
        "stage": current["status"] if current else "not started",
        "driver": ("running" if last_run and _alive(last_run) else
                   (last_run["status"] if last_run else "never run")),
        "runs": len(runs), "elapsed_s": elapsed,
        "md_eta_s": md_eta_s(ledger.tasks("md")),
        "replicas": {"queued": sum(md[s] for s in _QUEUED), "running": md["running"],
                     "done": md["done"], "failed": md["failed"]},
        "analyses": {"queued": sum(analyses[s] for s in _QUEUED), "done": analyses["done"],
                     "failed": analyses["failed"]},
        "infrastructure_retries": sum(t["infra_retries"] for t in ledger.tasks()),
        "per_iteration": per_iteration,
        "objective": config.get("objective", "conductivity"),
        "source": source, "md_results": sources["md_results"], "md_reason": sources["md_reason"],
        "adaptive": bool((config.get("md") or {}).get("adaptive")), "md_usage": md_usage(ledger),
        "units": {"elapsed_s": "s", "md_eta_s": "s", "objective_min": "S/cm",
                  "objective_mean": "S/cm",
                  "used_ns": "ns", "fixed_ns": "ns", "fraction": "1",
                  "objective_max": "S/cm", "draws_per_candidate": "draws"},
    }


def format_elapsed(seconds: float) -> str:
    """``h:mm:ss``."""
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def md_eta_s(tasks: list[dict]) -> float | None:
    """Seconds until the MD in the queue is done, from this campaign's measured runs.

    The mean wall time of its finished replica runs, times the runs left (a running one
    counts half), shared among the runs that run at once now. None before one finished.
    """
    done = [t["ended_at"] - t["started_at"] for t in tasks
            if t["status"] == "done" and t["started_at"] and t["ended_at"]]
    running = sum(t["status"] == "running" for t in tasks)
    left = sum(t["status"] in _QUEUED for t in tasks) + 0.5 * running
    if not done or not left:
        return None
    return sum(done) / len(done) * left / max(1, running)


def progress_line(s: dict) -> str:
    """One line a person can follow: iteration, stage, candidates, replicas, time."""
    r = s["replicas"]
    it = s["per_iteration"][-1] if s["per_iteration"] else {}
    sampled = it.get("sampled")
    return (f"[{format_elapsed(s['elapsed_s'])}] iteration {s['iteration'] or '-'}/"
            f"{s['iterations_total']} {s['stage']}: "
            f"candidates {sampled if sampled is not None else 'not sampled yet'}, replicas queued "
            f"{r['queued']} running {r['running']} done {r['done']} failed {r['failed']}"
            + (f", MD left ~{format_elapsed(s['md_eta_s'])} at the measured rate"
               if s.get("md_eta_s") else ""))


def format_status(s: dict) -> str:
    """The multi-line text of ``polyhpc campaign status``."""
    lines = [f"campaign {s['name']} in {s['folder']}: driver {s['driver']}, "
             f"{s['runs']} run(s), {format_elapsed(s['elapsed_s'])} elapsed",
             progress_line(s)]
    unit = "S/cm" if s["objective"] == "conductivity" else "S/cm (efficacy)"
    where = {"md": "MD", "surrogate": "surrogate predictions"}.get(s["source"])
    if where is None:
        lines.append(f"  no results: a pipeline check ({s['md_reason']})")
    elif not s["md_results"] and s["source"] == "surrogate":
        lines.append(f"  results are surrogate predictions; MD is a pipeline check "
                     f"({s['md_reason']})")
    for p in s["per_iteration"]:
        stats = "no results yet" if p["objective_mean"] is None else (
            f"{s['objective']} ({where}) min {p['objective_min'] * 1e3:.3g} mean "
            f"{p['objective_mean'] * 1e3:.3g} max {p['objective_max'] * 1e3:.3g} m{unit}")
        per = p["draws_per_candidate"]
        sampled = "not sampled yet" if p["sampled"] is None else f"{p['sampled']} sampled"
        lines.append(f"  iteration {p['iteration']} ({p['status']}): {sampled}"
                     + (f" ({per:.0f} draws each)" if per else "")
                     + f", {p['evaluated']} evaluated, {p['incomplete']} incomplete, "
                     + (f"{p['stopped']} stopped early (below the reference), "
                        if p["stopped"] else "")
                     + f"{p['unbuildable']} unbuildable, {p['failed']} failed"
                     + (f", {p['fed_back']} beat the reference" if where else "")
                     + f"; {stats if where else 'no results'}")
    usage = s["md_usage"]
    if usage["fixed_ns"] and s["adaptive"]:
        per = "; ".join(f"iteration {r['iteration']} {r['used_ns']:.4g} of {r['fixed_ns']:.4g}"
                        for r in usage["iterations"] if r["fixed_ns"])
        lines.append(f"  MD used {usage['used_ns']:.4g} ns of the fixed protocol's "
                     f"{usage['fixed_ns']:.4g} ns ({usage['fraction']:.0%}"
                     + (", adaptive MD" if s["adaptive"] else "") + f"): {per}")
    if s["infrastructure_retries"]:
        lines.append(f"  {s['infrastructure_retries']} task(s) resubmitted after a lost worker")
    return "\n".join(lines)
