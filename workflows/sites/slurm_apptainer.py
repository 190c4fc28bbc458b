"""Parsl site ``slurm-apptainer``: workers on the host, MD and GPU training inside the image.

Parsl's interchange refuses workers of another Python or Parsl version, so the
workers run the host's environment (like ``slurm``) and only the work enters the
container (psiflow's route for its reference calculations):

- each MD replica runs ``apptainer exec --nv IMAGE lmp ...`` (the task's LAMMPS
  command prefix), with the GPU Parsl assigned passed on by CUDA_VISIBLE_DEVICES;
- GPU training and sampling run the image's own Python:
  ``apptainer exec --nv IMAGE python -m polyhpc.campaign.tasks TASK.json``;
- building, analysis and the surrogate stay on the host.

GPU placement is that of ``slurm-gpu``.
"""

from __future__ import annotations

import shlex

from parsl.config import Config

from polyhpc.workflows.sites import slurm_gpu

#: Task kinds the image's Python runs (the rest run on the host workers).
IN_IMAGE = ("train", "sample")


def apptainer_prefix(site) -> list[str]:
    """``apptainer exec [options] IMAGE``: what runs a command inside the image."""
    return ["apptainer", "exec", *site.apptainer_args, site.image]


def task_command(site, task_path: str) -> str:
    """The shell command a host worker runs for a task the image's Python does.

    ``task_path`` is the task's ``task.json`` (kind, spec, task folder).
    """
    return " ".join(shlex.quote(part) for part in (
        *apptainer_prefix(site), "python", "-m", "polyhpc.campaign.tasks", task_path))


def make_config(site, run_dir: str, cores_per_task: int = 1) -> Config:
    """The slurm-gpu executors; the campaign wraps MD and training in the image."""
    if site.gpus_per_node:
        return slurm_gpu.make_config(site, run_dir, cores_per_task)
    from polyhpc.workflows.sites import slurm

    return slurm.make_config(site, run_dir, cores_per_task)
