"""Parsl site ``slurm-gpu``: separate pools for GPU AI work, GPU MD and CPU work.

As the large AI + MD campaign frameworks do (MOFA: one executor per task class),
three executors, each with its own blocks:

- ``ai`` (train, sample): ``ai_gpus`` workers, one GPU each;
- ``md`` (MD replicas): ``gpus_per_node x runs_per_gpu`` workers per node; Parsl's
  ``available_accelerators`` sets each worker's CUDA_VISIBLE_DEVICES, packing
  ``runs_per_gpu`` LAMMPS runs on one GPU (optionally under NVIDIA MPS, started in the
  block's ``worker_init``); the LAMMPS flags come from the MD profile (``gpu``);
- ``cpu`` (analysis, surrogate): CPU workers.
"""

from __future__ import annotations

import os

from parsl.config import Config

from polyhpc.workflows.sites.slurm import executor, provider

#: Starts NVIDIA MPS for the block's GPUs so that several LAMMPS runs share one GPU well.
MPS_START = ("export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe-$SLURM_JOB_ID "
             "CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log-$SLURM_JOB_ID\n"
             "mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY\n"
             "nvidia-cuda-mps-control -d")


def md_accelerators(gpus_per_node: int, runs_per_gpu: int) -> list[str]:
    """One entry per MD worker: GPU ids in contiguous blocks of ``runs_per_gpu``."""
    return [str(gpu) for gpu in range(gpus_per_node) for _ in range(runs_per_gpu)]


def make_config(site, run_dir: str, cores_per_task: int = 1) -> Config:
    """Three executors (ai, md, cpu) with their own SLURM blocks."""
    gpus = site.gpus_per_node
    runs = md_accelerators(gpus, site.runs_per_gpu)
    # a job step only sees the GPUs it asks for: ask again on srun
    md = executor(site, "md", provider(
        site, extra_init=MPS_START if site.mps else "", gpus_per_node=gpus,
        srun_overrides=f"--gpus-per-node={gpus}"), workers=len(runs), accelerators=runs)
    ai_gpus = max(site.ai_gpus, 0)
    ai = executor(site, "ai", provider(
        site, gpus_per_node=ai_gpus, srun_overrides=f"--gpus-per-node={ai_gpus}"
        if ai_gpus else ""), workers=max(ai_gpus, 1),
        accelerators=ai_gpus or ())
    cores = site.cores_per_node or os.cpu_count() or 1
    cpu = executor(site, "cpu", provider(site), workers=site.cpu_workers or cores)
    return Config(executors=[ai, md, cpu], run_dir=run_dir, strategy="simple",
                  initialize_logging=True, usage_tracking=0)
