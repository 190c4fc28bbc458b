"""Parsl site ``slurm``: HighThroughputExecutor + SlurmProvider + SrunLauncher (CPU nodes).

Each block is one batch job of ``nodes_per_block`` nodes running for ``walltime``;
``srun`` starts one worker pool per node (Parsl's own advice on native SLURM).
Every knob comes from the campaign YAML's ``site:`` section; the functions here
are shared with the ``slurm-gpu`` and ``slurm-apptainer`` sites.
"""

from __future__ import annotations

import os
import shlex
import sys

from parsl.addresses import address_by_interface
from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SrunLauncher
from parsl.providers import SlurmProvider


def worker_init(site, extra: str = "") -> str:
    """Shell lines each block runs before its workers start.

    Workers must run the driver's Python and Parsl (the interchange refuses other
    versions), so the driver's environment's bin/ goes first on PATH; the data folder
    is passed on; then the site's own lines (``module load ...``) and ``extra``.
    """
    lines = [f"export PATH={shlex.quote(os.path.dirname(sys.executable))}:$PATH"]
    for name in ("POLYHPC_DATA", "POLYHPC_CACHE"):
        if os.environ.get(name):
            lines.append(f"export {name}={shlex.quote(os.environ[name])}")
    if os.environ.get("SLURM_CONF"):  # a non-default SLURM (the test cluster) for srun
        lines.append(f"export SLURM_CONF={shlex.quote(os.environ['SLURM_CONF'])}")
    lines += [site.worker_init, extra]
    return "\n".join(line for line in lines if line)


def provider(site, extra_init: str = "", gpus_per_node: int | None = None,
             scheduler_options: str = "", srun_overrides: str = "") -> SlurmProvider:
    """A SlurmProvider with the site's partition, account, qos, walltime, blocks..."""
    options = "\n".join(o for o in (site.scheduler_options, scheduler_options) if o)
    return SlurmProvider(
        partition=site.partition, account=site.account, qos=site.qos,
        constraint=site.constraint,
        nodes_per_block=site.nodes_per_block, init_blocks=site.init_blocks,
        min_blocks=site.min_blocks, max_blocks=site.max_blocks,
        walltime=site.walltime,
        # exclusive=True is Parsl's default; shared nodes and small test clusters need False
        exclusive=site.exclusive,
        cores_per_node=site.cores_per_node, mem_per_node=site.mem_per_node_gb,
        gpus_per_node=gpus_per_node or None,
        scheduler_options=options,
        worker_init=worker_init(site, extra_init),
        # sbatch/squeue on a busy controller can take a while (Parsl's SLURM CI uses 60 s)
        cmd_timeout=site.cmd_timeout_s,
        launcher=SrunLauncher(overrides=srun_overrides),
    )


def executor(site, label: str, provider_: SlurmProvider, workers: int,
             accelerators=()) -> HighThroughputExecutor:
    """An HTEx whose interchange dies with the driver and whose workers notice it."""
    return HighThroughputExecutor(
        label=label,
        address=_address(site.address),
        max_workers_per_node=workers,
        available_accelerators=accelerators,
        interchange_launch_cmd=[sys.executable, "-m", "polyhpc.campaign.lifeline",
                                "interchange.py"],
        heartbeat_period=site.heartbeat_period_s,
        heartbeat_threshold=site.heartbeat_threshold_s,
        provider=provider_,
    )


def _address(value: str | None) -> str | None:
    """``ib0``-style interface names become that interface's address; hosts pass through."""
    if value is None:
        return None
    if value.isalnum() and not value.isdigit() and "." not in value and len(value) < 16 \
            and os.path.exists(f"/sys/class/net/{value}"):
        return address_by_interface(value)
    return value


def make_config(site, run_dir: str, cores_per_task: int = 1) -> Config:
    """One executor for every task kind on CPU nodes."""
    cores = site.cores_per_node or os.cpu_count() or 1
    workers = site.max_workers or max(1, cores // max(1, cores_per_task))
    return Config(executors=[executor(site, "slurm", provider(site), workers)],
                  run_dir=run_dir, strategy="simple", initialize_logging=True,
                  usage_tracking=0)
