"""Parsl site ``pbs``: PBS Pro GPU nodes (the ALCF machines: Polaris, Aurora-style queues).

The pools of ``slurm-gpu`` on a PBS Pro scheduler: ``ai`` (train, sample),
``md`` (``gpus_per_node x runs_per_gpu`` LAMMPS workers per node, each bound to
one GPU by ``available_accelerators``, optionally under NVIDIA MPS) and ``cpu``
(building, analysis, surrogate), each with its own blocks. A block is one
``qsub`` job of ``nodes_per_block`` nodes (``#PBS -l select=N:ncpus=C`` plus
``select_options``, e.g. ``ngpus=4``), its workers started with ``mpiexec``
(Parsl's ``MpiExecLauncher``, one worker pool per node), as ALCF's Parsl
examples do. ``partition`` is the PBS queue, ``account`` the project.
"""

from __future__ import annotations

import os
import sys

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import MpiExecLauncher
from parsl.providers import PBSProProvider

from polyhpc.workflows.sites.slurm import _address, worker_init
from polyhpc.workflows.sites.slurm_gpu import MPS_START, md_accelerators

#: PBS puts the job id here; MPS pipes and logs are per job.
_MPS = MPS_START.replace("$SLURM_JOB_ID", "$PBS_JOBID")


def provider(site, extra_init: str = "") -> PBSProProvider:
    """A PBSProProvider with the site's queue, project, walltime, select and blocks."""
    return PBSProProvider(
        account=site.account, queue=site.partition,
        scheduler_options=site.scheduler_options, select_options=site.select_options,
        worker_init=worker_init(site, extra_init),
        nodes_per_block=site.nodes_per_block, cpus_per_node=site.cores_per_node or 1,
        init_blocks=site.init_blocks, min_blocks=site.min_blocks, max_blocks=site.max_blocks,
        walltime=site.walltime, cmd_timeout=site.cmd_timeout_s,
        # one worker pool per node; --ppn 1 and the node's cores for it (ALCF's example)
        launcher=MpiExecLauncher(bind_cmd="--cpu-bind", overrides="--depth=64 --ppn 1"),
    )


def _executor(site, label: str, provider_: PBSProProvider, workers: int,
              accelerators=()) -> HighThroughputExecutor:
    return HighThroughputExecutor(
        label=label, address=_address(site.address), max_workers_per_node=workers,
        available_accelerators=accelerators, cpu_affinity="block",
        interchange_launch_cmd=[sys.executable, "-m", "polyhpc.campaign.lifeline",
                                "interchange.py"],
        heartbeat_period=site.heartbeat_period_s,
        heartbeat_threshold=site.heartbeat_threshold_s, provider=provider_)


def make_config(site, run_dir: str, cores_per_task: int = 1) -> Config:
    """Three executors (ai, md, cpu) with their own PBS blocks."""
    runs = md_accelerators(site.gpus_per_node, site.runs_per_gpu)
    md = _executor(site, "md", provider(site, _MPS if site.mps else ""), len(runs), runs)
    ai_gpus = max(site.ai_gpus, 0)
    ai = _executor(site, "ai", provider(site), max(ai_gpus, 1),
                   [str(g) for g in range(ai_gpus)])
    cores = site.cores_per_node or os.cpu_count() or 1
    cpu = _executor(site, "cpu", provider(site), site.cpu_workers or cores)
    return Config(executors=[ai, md, cpu], run_dir=run_dir, strategy="simple",
                  initialize_logging=True, usage_tracking=0)
