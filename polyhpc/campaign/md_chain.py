"""Where one MD replica stands, read from its ledger tasks: what it needs next.

A replica is a chain of tasks per attempt: ``build`` -> ``md`` -> ``analyze``.
A failed build or simulation starts the next attempt (new seeds) while
``md.retries`` allow; an ``md`` task that racing stopped early ends its chain
(its partial results are in the ledger, it has no final analysis).
"""

from __future__ import annotations

OPEN = ("pending", "submitted", "running")
#: The tasks of one replica attempt, in order: build on a CPU, LAMMPS, the analysis.
CHAIN = ("build", "md", "analyze")


def next_step(ledger, candidate: dict, replica: int, retries: int) -> tuple[str, int] | None:
    """What a replica needs next, ``(kind, attempt)``, or None once it has its end."""
    tasks = [t for t in ledger.tasks(candidate_id=candidate["id"])
             if t["replica"] == replica and t["kind"] in CHAIN]
    if not tasks:
        return "build", 0
    attempt = max(t["attempt"] for t in tasks)
    latest = {t["kind"]: t for t in tasks if t["attempt"] == attempt}
    for kind in CHAIN:
        task = latest.get(kind)
        if task is None or task["status"] in OPEN:
            return kind, attempt
        if task["status"] == "failed":
            if kind != "analyze" and attempt < retries:
                return "build", attempt + 1
            return None
        if kind == "md" and (task["info"] or {}).get("stopped_early"):
            return None
    return None


def replica_closed(ledger, candidate: dict, replica: int, retries: int) -> bool:
    """Whether a replica has its final state (a result, stopped early, or no attempt left)."""
    return next_step(ledger, candidate, replica, retries) is None
