"""Parsl site ``local``: a HighThroughputExecutor on this machine's cores.

One executor serves every kind of task (training, sampling, MD replicas,
analysis). Each worker runs one task at a time; an MD replica uses
``md.threads`` OpenMP threads, so the default worker count is the number of
cores divided by that.
"""

from __future__ import annotations

import os
import shlex
import sys

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider


def make_config(site, run_dir: str, cores_per_task: int = 1) -> Config:
    """A fresh Parsl config for this machine.

    Parameters
    ----------
    site : polyhpc.campaign.config.SiteConfig
        ``max_workers`` (default: cores // cores_per_task) and heartbeat settings.
    run_dir : str
        Parsl's run folder, inside the campaign folder.
    cores_per_task : int
        Cores one MD replica uses (``md.threads`` x ``md.mpi_ranks``).
    """
    bin_dir = os.path.dirname(sys.executable)
    workers = site.max_workers or max(1, (os.cpu_count() or 1) // max(1, cores_per_task))
    executor = HighThroughputExecutor(
        label="local",
        max_workers_per_node=workers,
        cores_per_worker=1.0,
        # loopback only: nothing outside this machine talks to the interchange
        address="127.0.0.1",
        # the interchange dies with the driver (see polyhpc.campaign.lifeline) ...
        interchange_launch_cmd=[sys.executable, "-m", "polyhpc.campaign.lifeline",
                                "interchange.py"],
        # ... and workers stop after this long without it, so a killed driver leaves nothing
        heartbeat_period=site.heartbeat_period_s,
        heartbeat_threshold=site.heartbeat_threshold_s,
        provider=LocalProvider(
            init_blocks=1, min_blocks=1, max_blocks=1,
            # Parsl starts process_worker_pool.py by name: this venv's bin/ must be on PATH
            worker_init=f"export PATH={shlex.quote(bin_dir)}:$PATH",
        ),
    )
    return Config(executors=[executor], run_dir=run_dir, strategy="simple",
                  initialize_logging=True, usage_tracking=0)
