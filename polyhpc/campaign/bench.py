"""``polyhpc campaign bench``: what the Parsl layer costs per task on the local site."""

from __future__ import annotations

import time
from pathlib import Path


def run_overhead_benchmark(workdir: Path, n_tasks: int = 1000, workers: int = 2,
                           round_trips: int = 100, site=None) -> dict:
    """Time ``n_tasks`` no-op tasks in one batch and ``round_trips`` one at a time.

    ``site`` (a :class:`SiteConfig`) defaults to the local site with ``workers`` workers;
    for a SLURM site the start-up includes the block's queueing and start.
    """
    from polyhpc.campaign.apps import ParslSession
    from polyhpc.campaign.config import SiteConfig
    from polyhpc.campaign.specs import NoopSpec

    workdir = Path(workdir)
    site = site or SiteConfig(kind="local", max_workers=workers)
    began = time.perf_counter()
    with ParslSession(site, workdir / "parsl") as s:
        s.submit("noop", NoopSpec(-1)).result()  # the block is up once one task ran
        startup = time.perf_counter() - began
        start = time.perf_counter()
        futures = [s.submit("noop", NoopSpec(i)) for i in range(n_tasks)]
        values = [f.result()["outcome"]["value"] for f in futures]
        batch = time.perf_counter() - start
        start = time.perf_counter()
        for i in range(round_trips):
            s.submit("noop", NoopSpec(i)).result()
        single = time.perf_counter() - start
    if values != list(range(n_tasks)):
        raise RuntimeError("tasks returned wrong values")
    return {"site": site.kind, "tasks": n_tasks, "workers": site.max_workers,
            "startup_s": startup, "batch_s": batch,
            "per_task_ms": 1e3 * batch / n_tasks, "tasks_per_s": n_tasks / batch,
            "round_trips": round_trips, "round_trip_ms": 1e3 * single / round_trips}
