"""Site factories render the batch scripts and task commands a GPU cluster needs.

No GPU, SLURM GRES or Apptainer is on this machine, so the blocks are checked on the text
Parsl would submit: sbatch is the one thing replaced (a stub that keeps the script).
"""

import os
import stat
import sys

import pytest

from polyhpc.campaign.apps import site_module
from polyhpc.campaign.config import load_campaign_config

GPU_SITE = {"kind": "slurm-gpu", "partition": "gpu", "account": "mat123", "qos": "normal",
            "walltime": "12:00:00", "nodes_per_block": 1, "max_blocks": 4,
            "gpus_per_node": 4, "runs_per_gpu": 2, "mps": True, "ai_gpus": 1,
            "cores_per_node": 64, "worker_init": "module load cuda/12.8",
            "scheduler_options": "#SBATCH --constraint=a100"}


def _site(**changes):
    return load_campaign_config({"site": {**GPU_SITE, **changes}}).site


def _batch_script(provider, tmp_path, monkeypatch, name):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "sbatch"
    stub.write_text('#!/bin/sh\ncp "$1" "$1.submitted"\necho "Submitted batch job 4242"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    provider.script_dir = str(tmp_path)
    assert provider.submit("process_worker_pool.py --block", 1, job_name=name) == "4242"
    return next(tmp_path.glob(f"{name}.*.submitted")).read_text()


def test_slurm_gpu_has_ai_md_and_cpu_pools_with_gpus_bound_per_worker(tmp_path, monkeypatch):
    config = site_module("slurm-gpu").make_config(_site(), run_dir=str(tmp_path))
    ai, md, cpu = config.executors
    assert (ai.label, md.label, cpu.label) == ("ai", "md", "cpu")
    # 4 GPUs x 2 LAMMPS runs each: workers 0,1 on GPU 0, workers 2,3 on GPU 1, ...
    assert md.available_accelerators == ["0", "0", "1", "1", "2", "2", "3", "3"]
    assert md.max_workers_per_node == 8
    assert ai.available_accelerators == ["0"] and ai.max_workers_per_node == 1
    assert not cpu.available_accelerators and cpu.max_workers_per_node == 64
    script = _batch_script(md.provider, tmp_path, monkeypatch, "md")
    for line in ("#SBATCH --partition=gpu", "#SBATCH --account=mat123", "#SBATCH --qos=normal",
                 "#SBATCH --gpus-per-node=4", "#SBATCH --time=720", "#SBATCH --constraint=a100",
                 "module load cuda/12.8", "nvidia-cuda-mps-control -d",
                 "srun --ntasks 1 -l --gpus-per-node=4"):
        assert line in script, line
    assert "#SBATCH --exclusive" not in script
    assert f"export PATH={os.path.dirname(sys.executable)}:$PATH" in script
    cpu_script = _batch_script(cpu.provider, tmp_path, monkeypatch, "cpu")
    assert "--gpus-per-node" not in cpu_script and "nvidia-cuda-mps-control" not in cpu_script


def test_slurm_gpu_without_mps_starts_no_mps_daemon(tmp_path, monkeypatch):
    md = site_module("slurm-gpu").make_config(_site(mps=False), run_dir=str(tmp_path)) \
        .executors[1]
    assert "nvidia-cuda-mps-control" not in _batch_script(md.provider, tmp_path, monkeypatch,
                                                          "md")


def test_slurm_apptainer_runs_training_in_the_image_and_lmp_through_apptainer_exec():
    site = _site(kind="slurm-apptainer", image="/images/polyhpc-gpu.sif",
                 apptainer_args=["--nv", "-B", "/scratch"])
    module = site_module("slurm-apptainer")
    assert module.task_command(site, "/c/tasks/7/task.json") == (
        "apptainer exec --nv -B /scratch /images/polyhpc-gpu.sif python -m "
        "polyhpc.campaign.tasks /c/tasks/7/task.json")
    assert module.apptainer_prefix(site) == ["apptainer", "exec", "--nv", "-B", "/scratch",
                                             "/images/polyhpc-gpu.sif"]
    assert set(module.IN_IMAGE) == {"train", "sample"}


@pytest.mark.parametrize("changes, message", [
    ({"kind": "slurm-apptainer", "image": None}, "needs the image path"),
    ({"gpus_per_node": 0}, "at least 1 GPU"),
    ({"walltime": "12h"}, "walltime '12h' is not HH:MM:SS"),
    ({"min_blocks": 5}, "must not exceed max_blocks"),
])
def test_site_sections_are_checked_when_loaded(changes, message):
    from polyhpc.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        _site(**changes)


def _qsub_script(provider, tmp_path, monkeypatch, name):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "qsub"  # PBS cannot run here: qsub is the one thing replaced
    stub.write_text('#!/bin/sh\nfor a; do last="$a"; done\ncp "$last" "$last.submitted"\n'
                    'echo "4242.polaris-pbs-01"\n')
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    provider.script_dir = str(tmp_path)
    assert provider.submit("process_worker_pool.py --block", 1, job_name=name) == \
        "4242.polaris-pbs-01"
    return next(tmp_path.glob(f"{name}.*.submitted")).read_text()


def test_pbs_site_has_the_gpu_pools_and_writes_the_batch_scripts_pbs_pro_reads(
        tmp_path, monkeypatch):
    from polyhpc.campaign.config import load_site
    from polyhpc.resources import workflows_dir

    site = load_site(workflows_dir() / "site-pbs.yaml")
    ai, md, cpu = site_module("pbs").make_config(site, run_dir=str(tmp_path)).executors
    assert (ai.label, md.label, cpu.label) == ("ai", "md", "cpu")
    # 4 GPUs x 4 LAMMPS runs each, bound in blocks: workers 0-3 on GPU 0, ...
    assert md.available_accelerators == [str(g) for g in range(4) for _ in range(4)]
    script = _qsub_script(md.provider, tmp_path, monkeypatch, "md")
    for line in ("#PBS -l select=1:ncpus=32:ngpus=4", "#PBS -l walltime=06:00:00",
                 "#PBS -l filesystems=home:eagle", "conda activate polyhpc",
                 "nvidia-cuda-mps-control -d", "mpiexec", "--ppn 1",
                 "CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe-$PBS_JOBID"):
        assert line in script, line
    assert f"export PATH={os.path.dirname(sys.executable)}:$PATH" in script
    cpu_script = _qsub_script(cpu.provider, tmp_path, monkeypatch, "cpu")
    assert "nvidia-cuda-mps-control" not in cpu_script
    # the queue and project go on qsub's command line, as Parsl's PBSProProvider puts them
    assert md.provider.queue == "prod" and md.provider.account == "MyProject"


def test_a_parsl_factory_without_polyhpcs_pool_labels_is_refused_naming_them(tmp_path):
    from polyhpc.campaign.apps import ParslSession
    from polyhpc.errors import ConfigError

    factory = tmp_path / "mine.py"
    factory.write_text(
        "from parsl.config import Config\n"
        "from parsl.executors import ThreadPoolExecutor\n"
        "def make_config(run_dir):\n"
        "    return Config(executors=[ThreadPoolExecutor(label='ai'),\n"
        "                             ThreadPoolExecutor(label='gpu')])\n"
        "def other():\n"
        "    return 42\n")
    site = load_campaign_config({"site": {"kind": "parsl", "factory": str(factory)}}).site
    with pytest.raises(ConfigError, match=r"executors are labelled ai, gpu; polyhpc needs one "
                                          r"executor, or executors labelled ai, cpu, md "
                                          r"\(missing: cpu, md\)"):
        with ParslSession(site, tmp_path / "parsl"):
            pass
    wrong = load_campaign_config({"site": {"kind": "parsl",
                                           "factory": f"{factory}:other"}}).site
    with pytest.raises(ConfigError, match="returned int, not a parsl.Config"):
        with ParslSession(wrong, tmp_path / "parsl"):
            pass
    with pytest.raises(ConfigError, match="factory: the parsl site needs the Python file"):
        load_campaign_config({"site": {"kind": "parsl"}})


def test_the_shipped_example_factory_runs_tasks_on_its_three_pools(tmp_path):
    from polyhpc.campaign.apps import ParslSession
    from polyhpc.campaign.specs import NoopSpec
    from polyhpc.resources import workflows_dir

    site = load_campaign_config({"site": {"kind": "parsl", "factory": str(
        workflows_dir() / "parsl_site_example.py")}}).site
    with ParslSession(site, tmp_path / "parsl") as session:
        labels = sorted(e.label for e in session.config.executors)
        values = [session.submit(kind, NoopSpec(k)).result()["outcome"]["value"]
                  for k, kind in enumerate(("noop", "noop"))]
    assert labels == ["ai", "cpu", "md"] and values == [0, 1]
    assert str(tmp_path / "parsl") in session.config.run_dir
