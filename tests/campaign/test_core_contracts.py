"""The campaign core's contracts: what decides its numbers cannot change under it.

- an edited MD profile or force-field file is refused when the campaign continues;
- a replica task carries its protocol inline and refuses a changed force-field file;
- a task lost to the infrastructure more often than site.max_infra_retries fails;
- ``polyhpc analyze`` and the ledger aggregate replicas with one NaN policy;
- ``campaign plan`` and ``campaign status`` start without torch.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from polyhpc.campaign.config import load_campaign_config
from polyhpc.campaign.loop import Campaign
from polyhpc.config import to_dict
from polyhpc.errors import ConfigError
from polyhpc.resources import resolve_yaml


def _smoke(tmp_path, **md):
    smoke = to_dict(load_campaign_config("smoke"))
    return load_campaign_config({**smoke, "md": {**smoke["md"], **md}})


def test_an_edited_md_profile_is_refused_when_the_campaign_continues(tmp_path):
    profile = tmp_path / "md-mine.yaml"
    shutil.copy(resolve_yaml("smoke", "md"), profile)
    config = _smoke(tmp_path, profile=str(profile))
    Campaign(config, tmp_path / "c").close()
    # the same name, other numbers: a 1 fs time step instead of 2 fs
    profile.write_text(profile.read_text() + "timestep_fs: 1.0\n")
    with pytest.raises(ConfigError, match=r"the MD profile 'smoke' changed since the campaign "
                                          r"started \(timestep_fs\)"):
        Campaign(config, tmp_path / "c")
    # restored, it continues
    profile.write_text(profile.read_text().replace("timestep_fs: 1.0\n", ""))
    Campaign(config, tmp_path / "c").close()


def test_an_edited_force_field_file_is_refused_when_the_campaign_continues(tmp_path):
    from polyhpc.md.frc import default_frc_path

    frc = tmp_path / "pcff.frc"
    shutil.copy(default_frc_path(), frc)
    config = _smoke(tmp_path, frc=str(frc))
    Campaign(config, tmp_path / "c").close()
    frc.write_text(frc.read_text() + "\n! an edited parameter file\n")
    with pytest.raises(ConfigError, match=r"the force-field file pcff.frc changed since the "
                                          r"campaign started \(sha256 [0-9a-f]{12} -> "):
        Campaign(config, tmp_path / "c")


def test_a_replica_task_carries_its_protocol_and_refuses_a_changed_force_field(tmp_path):
    from polyhpc.campaign import specs
    from polyhpc.campaign.config import campaign_protocol
    from polyhpc.campaign.tasks import ChangedFileError, run_task
    from polyhpc.fileio import sha256_file
    from polyhpc.md.frc import default_frc_path

    frc = tmp_path / "pcff.frc"
    shutil.copy(default_frc_path(), frc)
    protocol = campaign_protocol(_smoke(tmp_path))
    spec = specs.ReplicaSpec(smiles="*CCO*", workdir=str(tmp_path / "rep0"), protocol=protocol,
                             seed=3, replica=0, frc=str(frc), frc_sha256=sha256_file(frc))
    data = specs.encode(spec)
    # every setting travels with the task; no profile is read by name on the worker
    assert "profile" not in data and data["protocol"]["timestep_fs"] == protocol.timestep_fs
    assert specs.decode_spec("build", data) == spec
    frc.write_text(frc.read_text() + "\n! edited\n")
    with pytest.raises(ChangedFileError, match="force-field file .* changed since the campaign "
                                               "recorded it"):
        run_task("build", data, str(tmp_path / "task"))
    assert not (tmp_path / "rep0" / "system.lmp").exists()


def test_gpus_zero_is_honoured_for_cpu_profiles_and_refused_for_gpu_profiles(tmp_path):
    assert _smoke(tmp_path, gpus=0).md.gpus == 0
    with pytest.raises(ConfigError, match=r"md.gpus: 0, but the MD profile 'gpu' runs LAMMPS "
                                          r"on GPUs"):
        _smoke(tmp_path, profile="gpu", gpus=0)


def _group_of(pid: int) -> int:
    """The process group of a worker's manager (the Parsl block)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    ppid = int(stat[stat.rindex(")") + 2:].split()[1])
    return os.getpgid(ppid)


def test_a_task_lost_more_often_than_max_infra_retries_fails_with_the_reason(tmp_path):
    from polyhpc.campaign.scheduler import CampaignError
    from polyhpc.campaign.specs import NoopSpec

    smoke = to_dict(load_campaign_config("smoke"))
    config = load_campaign_config({**smoke, "site": {
        "kind": "local", "max_workers": 1, "max_infra_retries": 1,
        "heartbeat_period_s": 1, "heartbeat_threshold_s": 3}})
    campaign = Campaign(config, tmp_path / "c")
    killed = []

    def kill_blocks(scheduler, task_id) -> None:
        marker = scheduler.task_dir(task_id) / "started.json"
        deadline = time.time() + 240
        seen = set()
        while len(killed) < 2 and time.time() < deadline:
            time.sleep(0.2)
            try:
                pid = json.loads(marker.read_text())["pid"]
            except (OSError, ValueError):
                continue
            if pid in seen:
                continue
            seen.add(pid)
            os.killpg(_group_of(pid), signal.SIGKILL)  # the block dies: ManagerLost
            killed.append(pid)

    with campaign.session() as context:
        ledger, scheduler = context.ledger, context.scheduler
        task = ledger.ensure_task("noop", 1)
        killer = threading.Thread(target=kill_blocks, args=(scheduler, task["id"]))
        killer.start()
        with pytest.raises(CampaignError, match=r"InfrastructureLost: lost to the "
                                                r"infrastructure 2 time\(s\), more than "
                                                r"site.max_infra_retries = 1 allows"):
            scheduler.run_one("noop", 1, NoopSpec(sleep_s=120), "a long task", task=task)
        killer.join()
    row = ledger.task(task["id"])
    assert len(killed) == 2
    assert row["status"] == "failed" and row["error_class"] == "InfrastructureLost"
    assert row["infra_retries"] == 1 and row["submissions"] == 2
    assert [e["kind"] for e in ledger.events() if e["task_id"] == task["id"]] == \
        ["infrastructure", "infrastructure"]
    campaign.close()


def _paired_copy(source: Path, target: Path) -> None:
    """The dump with every Li moved 1 A from its TFSI's N: every cluster neutral."""
    target.mkdir()
    shutil.copy(source.parent / "meta.json", target / "meta.json")
    lines = source.read_text().splitlines(keepends=True)
    out, frame = [], []

    def flush():
        rows = [line.split() for line in frame]
        nitrogen = [r for r in rows if len(r) == 11 and r[2] == "93"]
        lithium = [r for r in rows if len(r) == 11 and r[2] == "90"]
        for li, n in zip(lithium, nitrogen, strict=True):
            li[5:8] = [f"{float(n[5]) + 1.0:.4f}", n[6], n[7]]
            li[8:11] = n[8:11]
        out.extend(" ".join(r) + "\n" if len(r) == 11 else line
                   for r, line in zip(rows, frame, strict=True))

    for line in lines:
        if line.startswith("ITEM: TIMESTEP") and frame:
            flush()
            frame = []
        frame.append(line)
    flush()
    (target / "traj.lammpstrj").write_text("".join(out))


def test_analyze_and_the_ledger_agree_on_replicas_with_an_undefined_transference(tmp_path):
    from polyhpc.analysis.pipeline import analyze_path
    from polyhpc.analysis.synthetic import write_synthetic_dump
    from polyhpc.campaign.evaluate import aggregate, objective_value
    from polyhpc.cli import main
    from polyhpc.fileio import finite_json

    folders = []
    for seed in (1, 2):
        write_synthetic_dump(tmp_path / f"rep{seed}" / "traj.lammpstrj", n_frames=12,
                             n_atoms=600, n_pairs=10, seed=seed, step_A=1.0)
        folders.append(tmp_path / f"rep{seed}")
    _paired_copy(tmp_path / "rep2" / "traj.lammpstrj", tmp_path / "paired")
    folders.append(tmp_path / "paired")
    results = [analyze_path(f) for f in folders]
    assert np.isfinite(results[0].transference_number)
    assert np.isnan(results[2].transference_number)  # no charged cluster at all
    assert results[2].conductivity == 0.0

    cli = CliRunner().invoke(main, ["analyze", *map(str, folders), "--json"])
    assert cli.exit_code == 0, cli.output
    by_cli = json.loads(cli.output[cli.output.index("{"):])["aggregate"]
    rows = [{"properties": finite_json(r.to_dict(arrays=False)),
             "objective": objective_value(finite_json(r.to_dict(arrays=False)),
                                          "conductivity")} for r in results]
    by_ledger = aggregate(rows, 3, "conductivity")
    finite = [r.transference_number for r in results[:2]]
    # one policy: the undefined value is left out of its own property, counted, never a NaN
    assert by_cli["mean"]["transference_number"] == pytest.approx(np.mean(finite), rel=1e-12)
    assert by_ledger["mean"]["transference_number"] == pytest.approx(np.mean(finite), rel=1e-12)
    assert by_cli["n"]["transference_number"] == by_ledger["n"]["transference_number"] == 2
    assert "over 2 of 3 replicas" in by_cli["notes"]["transference_number"]
    for key in ("conductivity", "li_diffusivity", "molality"):
        values = [getattr(r, key) for r in results]
        assert by_cli["mean"][key] == pytest.approx(np.mean(values), rel=1e-12)
        assert by_ledger["mean"][key] == pytest.approx(np.mean(values), rel=1e-12)
        assert by_cli["std"][key] == pytest.approx(np.std(values, ddof=1), rel=1e-9)
        assert by_ledger["std"][key] == pytest.approx(np.std(values, ddof=1), rel=1e-9)


@pytest.mark.parametrize("command", ["plan", "status"])
def test_campaign_plan_and_status_start_without_torch(tmp_path, command):
    Campaign(_smoke(tmp_path), tmp_path / "c").close()
    argument = "smoke" if command == "plan" else str(tmp_path / "c")
    extra = ["--rate", "10"] if command == "plan" else []
    code = ("import sys; from polyhpc.cli import main\n"
            "try:\n"
            f"    main([{', '.join(repr(a) for a in ['campaign', command, argument, *extra])}])\n"
            "except SystemExit as exit:\n"
            "    assert not exit.code, exit.code\n"
            "print('torch' in sys.modules, 'parsl' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False False"


class _Payload:
    """Unpickling this creates a file: the proof that a loader ran code from a file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_checkpoint_in_the_campaign_folder_is_set_aside_never_loaded(tmp_path):
    import pickle

    from polyhpc.campaign import specs
    from polyhpc.campaign.tasks import run_task
    from polyhpc.generate.config import GeneratorConfig, TrainConfig

    marker = tmp_path / "payload-ran"
    out = tmp_path / "iter01" / "train" / "model.pt"
    out.parent.mkdir(parents=True)
    out.write_bytes(pickle.dumps(_Payload(marker)))  # not one the ledger ever recorded
    spec = specs.TrainSpec(dataset="htpmd-train", out=str(out), config=GeneratorConfig(
        train=TrainConfig(max_iters=2, eval_interval=1, checkpoint_interval=2, threads=1)))
    result = run_task("train", specs.encode(spec), str(tmp_path / "task"))
    assert not marker.exists()
    assert (out.parent / "model.pt.unrecorded").is_file()
    assert result["outcome"]["iterations"] == 2  # trained from scratch, not resumed


@pytest.mark.parametrize("kind", ["sample", "surrogate_predict"])
def test_a_model_file_that_changed_since_it_was_recorded_is_refused_unloaded(tmp_path, kind):
    import pickle

    from polyhpc.campaign import specs
    from polyhpc.campaign.tasks import ChangedFileError, run_task
    from polyhpc.fileio import sha256_file
    from polyhpc.generate.config import SampleConfig

    marker = tmp_path / "payload-ran"
    model = tmp_path / "model.bin"
    model.write_bytes(b"the file the ledger recorded")
    recorded = sha256_file(model)
    model.write_bytes(pickle.dumps(_Payload(marker)))  # swapped afterwards
    (tmp_path / "known.txt").write_text("*CCO*\n")
    spec = specs.SampleSpec(checkpoint=str(model), checkpoint_sha256=recorded,
                            known=str(tmp_path / "known.txt"), sampling=SampleConfig()) \
        if kind == "sample" else specs.PredictSpec(model=str(model), model_sha256=recorded,
                                                   smiles=("*CCO*",))
    with pytest.raises(ChangedFileError, match="changed since the campaign recorded it"):
        run_task(kind, specs.encode(spec))
    assert not marker.exists()


def test_a_replica_whose_lmp_was_stopped_from_outside_counts_as_lost_infrastructure():
    """A cancelled block's SIGTERM that reaches lmp before the worker is not a failed replica.

    The md task raises ``StoppedFromOutside`` (tests/md/test_continuation.py shows the
    outcome); the scheduler treats it as a lost task: submitted again with the same seeds,
    within ``site.max_infra_retries``, instead of a retry with new seeds. The exception
    crosses Parsl's boundary pickled, so it must survive that with its type and message.
    """
    import pickle

    from polyhpc.campaign.scheduler import is_infrastructure_loss
    from polyhpc.errors import RunFailedError, StoppedFromOutside

    error = StoppedFromOutside("rep1: eq05: lmp was stopped by SIGTERM from outside")
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is StoppedFromOutside and str(back) == str(error)
    assert is_infrastructure_loss(back)
    assert not is_infrastructure_loss(RunFailedError("every replica failed"))
    assert not is_infrastructure_loss(ValueError("a bug in a task"))
