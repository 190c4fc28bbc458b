"""``polyhpc campaign``: the discovery loop, its status, report and benchmarks."""

from __future__ import annotations

import signal
import sqlite3
import sys
import time
from pathlib import Path

import click

from polyhpc.cli.base import _emit, _quiet, main

_dir_argument = click.argument("folder", type=click.Path(file_okay=False, path_type=Path))


@main.group()
def campaign() -> None:
    """The paper's discovery loop on Parsl: train, sample, evaluate, feed back, retrain.

    For example:

    \b
      polyhpc campaign run laptop --dir runs/laptop       # shipped config, or a YAML path
      polyhpc campaign status runs/laptop                 # any time, also while it runs
      polyhpc campaign report runs/laptop                 # figures, HTML and Markdown
      polyhpc campaign plan paper --gpus 32 --rate 25     # what the paper campaign costs
      polyhpc campaign run paper --dir /scratch/paper --site my-cluster.yaml

    A campaign is a folder: its SQLite ledger (ledger.sqlite) records every
    candidate, task and result. Running the same config on the same folder
    again continues where it stopped; a finished task never runs twice.
    Shipped configs: workflows/campaign-<paper|paper-adaptive|laptop|smoke>.yaml;
    shipped site files: workflows/site-*.yaml.
    """  # noqa: D301 - click's no-rewrap marker is a real backspace, not a raw backslash


class _Progress:
    """Prints the ledger's progress line to stderr when it changes (at most once a second).

    Silent under ``polyhpc -q``.
    """

    def __init__(self, folder: Path):
        self.quiet = _quiet()  # read here: the driver may call from another thread
        self.folder = folder
        self.last = ""
        self.when = 0.0
        self.ledger = None

    def __call__(self) -> None:
        from polyhpc.campaign.status import progress_line, snapshot
        from polyhpc.campaign.store import Ledger

        now = time.monotonic()
        if self.quiet or now - self.when < 1.0:
            return
        self.when = now
        if self.ledger is None:
            self.ledger = Ledger.open(self.folder, readonly=True)
        line = progress_line(snapshot(self.ledger))
        if line[line.index("]"):] != self.last[self.last.index("]") if self.last else 0:]:
            click.echo(line, err=True)
            self.last = line


def _terminate(signum, frame):  # SIGTERM (SLURM's warning, a kill) stops like Ctrl-C
    raise KeyboardInterrupt


@campaign.command("run")
@click.argument("config_path", metavar="CONFIG")
@click.option("--dir", "folder", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Campaign folder: created if new, continued if it holds this campaign.")
@click.option("--site", "site_path", metavar="SITE.yaml",
              help="Run on this site (a site: section in its own file, or a shipped name: "
                   "workflows/site-*.yaml) instead of the config's; recorded with the run.")
@click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON.")
def campaign_run(config_path, folder, site_path, as_json) -> None:
    """Run (or continue) the campaign of CONFIG in --dir.

    For example:

    \b
      polyhpc campaign run laptop --dir runs/laptop
      polyhpc campaign run paper --dir /scratch/$USER/paper --site site-slurm-gpu.yaml

    CONFIG is a YAML file or a shipped name (paper, paper-adaptive, laptop,
    smoke). Progress goes to stderr; the ledger holds everything. Changing the
    config of an existing campaign is refused (the changed keys are named),
    except its site, budget, name and number of iterations. Ctrl-C stops it
    within seconds and keeps every finished result: run it again to continue.
    Exit codes: 0 finished, 2 bad input, 3 the run failed or stopped with work
    left (budget), 130 interrupted.
    """  # noqa: D301
    import dataclasses

    from polyhpc.campaign.config import check_campaign_config, load_campaign_config, load_site
    from polyhpc.campaign.loop import Campaign
    from polyhpc.campaign.status import format_status, snapshot
    from polyhpc.resources import resolve_yaml

    config = load_campaign_config(config_path)
    if site_path:
        config = check_campaign_config(dataclasses.replace(config, site=load_site(site_path)))
    source = resolve_yaml(config_path, "campaign", option="campaign config").read_text()
    progress = _Progress(folder.resolve())
    signal.signal(signal.SIGTERM, _terminate)
    import logging

    # a full disk makes every log call fail: never a traceback per log line on the terminal
    logging.raiseExceptions = False
    run = None
    try:
        run = Campaign(config, folder, notify=progress, source=source)
        status = run.run()
    except KeyboardInterrupt:
        if run is None:
            raise
        _interrupted(run)
    except (OSError, sqlite3.OperationalError) as exc:
        _stopped_by_the_system(exc, folder)
    state = snapshot(run.ledger)
    lines = [format_status(state), *_banner(run.ledger),
             f"report: polyhpc campaign report {folder}"]
    if status == "budget":
        click.echo("stopped: the budget is spent (raise budget.* in the config and run again "
                   "to continue)", err=True)
    _emit({**state, "ended": status}, as_json, "\n".join(lines), units={})
    if status == "budget":
        sys.exit(3)


def _stopped_by_the_system(exc: Exception, folder: Path) -> None:
    """A full or read-only disk under a running campaign: one line, exit code 3."""
    import errno

    from polyhpc.errors import RunFailedError

    full = getattr(exc, "errno", None) == errno.ENOSPC or "disk is full" in str(exc)
    read_only = getattr(exc, "errno", None) == errno.EROFS or "readonly" in str(exc)
    if not (full or read_only):
        raise exc
    what = "the disk is full" if full else "the file system is read-only"
    raise RunFailedError(f"campaign stopped: {what} ({folder}: {exc}); every finished "
                         "result is in the ledger: free space (or make it writable) and run "
                         "the same command again to continue") from None


def _interrupted(run) -> None:
    """Say what an interrupted campaign kept, then leave at once (exit code 130).

    The Parsl session has stopped its blocks (within its grace period); Parsl's own
    threads may still wait on an interchange the signal killed, so the process exits
    without waiting for them. Everything finished is committed in the ledger.
    """
    import os

    tasks = run.ledger.tasks(status="done")
    results = run.ledger.results()
    click.echo(f"interrupted: the ledger keeps {len(tasks)} finished task(s) and "
               f"{len(results)} result(s); run the same command again to continue",
               err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(130)


def _banner(ledger) -> list[str]:
    """The report's first lines (what the run can and cannot tell), for the terminal."""
    from polyhpc.campaign.report import banner, collect

    return banner(collect(ledger))


@campaign.command("status")
@_dir_argument
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status (with units).")
def campaign_status(folder, as_json) -> None:
    """Where the campaign in FOLDER stands (read from its ledger, safe while it runs).

    For example:

    \b
      polyhpc campaign status runs/laptop
      watch -n 60 polyhpc campaign status /scratch/$USER/paper
    """  # noqa: D301
    from polyhpc.campaign.status import format_status, snapshot
    from polyhpc.campaign.store import Ledger

    ledger = Ledger.open(folder, readonly=True)
    state = snapshot(ledger)
    _emit(state, as_json, format_status(state), units={})


@campaign.command("bench")
@click.option("--tasks", "n_tasks", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Short tasks to send through the site.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Worker processes of the local site.")
@click.option("--config", "config_path",
              help="Use the site: section of this campaign config (default: the local site).")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path),
              default=Path(".polyhpc-bench/campaign"), show_default=True,
              help="Folder for the site's run directory and the tasks' files.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result (with units).")
def campaign_bench(n_tasks, workers, config_path, workdir, as_json) -> None:
    """Orchestration overhead: N no-op tasks through a Parsl site (local by default).

    Reports the block start-up, the throughput (wall time / tasks with all
    workers busy) and the round-trip latency of one task at a time.

    For example:

    \b
      polyhpc campaign bench                          # 1000 tasks, 2 local workers
      polyhpc campaign bench --tasks 200 --workers 4 --json
      polyhpc campaign bench --config my-campaign.yaml   # that config's site (e.g. SLURM)
    """  # noqa: D301
    from polyhpc.campaign.bench import run_overhead_benchmark

    site = None
    if config_path:
        from polyhpc.campaign.config import load_campaign_config

        site = load_campaign_config(config_path).site
    report = run_overhead_benchmark(workdir, n_tasks, workers, site=site)
    text = (f"{n_tasks} tasks on {report['workers']} {report['site']} workers: start-up "
            f"{report['startup_s']:.2f} s, "
            f"{report['per_task_ms']:.2f} ms/task in a batch ({report['tasks_per_s']:.0f} "
            f"tasks/s), {report['round_trip_ms']:.2f} ms per task one at a time")
    _emit(report, as_json, text, units={"startup_s": "s", "per_task_ms": "ms",
                                        "tasks_per_s": "1/s", "round_trip_ms": "ms"})


@campaign.command("report")
@_dir_argument
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the figures and pages (default: FOLDER/report).")
@click.option("--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default="png",
              show_default=True, help="Figure format (svg and pdf for papers).")
@click.option("--dpi", type=click.IntRange(min=30, max=1200), default=150, show_default=True,
              help="Resolution of png figures.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary numbers as JSON.")
def campaign_report(folder, out, fmt, dpi, as_json) -> None:
    """The paper's figures and numbers for the campaign in FOLDER (from its ledger).

    For example:

    \b
      polyhpc campaign report runs/laptop
      polyhpc campaign report runs/paper --format pdf --out paper-figures/

    Writes distribution (Fig. 2), replicas (Fig. 3), surrogate-vs-md,
    report.md and a self-contained report.html with a banner saying what the
    run can and cannot tell, the polymers above the reference with their 2D
    structures (Fig. 4), every candidate and a provenance footer. Every value
    says its source (MD with its profile and force field, or the surrogate).
    """  # noqa: D301
    from polyhpc.campaign.report import write_report
    from polyhpc.campaign.store import Ledger

    report = write_report(Ledger.open(folder, readonly=True), out or folder / "report", fmt, dpi)
    where = {"md": "MD", "surrogate": "surrogate"}.get(report["source"])
    training = report["training_mean_mS_per_cm"]
    lines = list(report["banner"])
    lines.append("training set mean " + ("n/a" if training is None else
                                        f"{training:.4g} mS/cm (HTP-MD, PCFF+)"))
    for r in report["iterations"]:
        mean = r["mean_mS_per_cm"]
        lines.append(f"iteration {r['iteration']}: {r['evaluated']} evaluated"
                     + (f", mean {mean:.4g} mS/cm ({where}), {r['winners']} above the "
                        "reference" if where and mean is not None else ", no results"))
    lines.append(f"wrote {report['html']} and {report['markdown']}")
    _emit(report, as_json, "\n".join(lines), units={})


@campaign.command("plan")
@click.argument("config_path", metavar="CONFIG")
@click.option("--rate", default=".polyhpc-bench/md/report.json", show_default=True,
              help="Speed of one replica run: ns/day, or the report.json `polyhpc bench md` "
                   "writes.")
@click.option("--gpus", type=click.IntRange(min=0), default=0, show_default=True,
              help="GPUs to plan for (0: CPU cores, md.threads per replica).")
@click.option("--runs-per-gpu", type=click.IntRange(min=1),
              help="Replicas sharing one GPU (default: the site's runs_per_gpu).")
@click.option("--train-hours", type=click.FloatRange(min=0.0), default=0.25, show_default=True,
              help="Wall time of one generator training.")
@click.option("--replay", "replay_path",
              help="With md.adaptive: the expected MD fraction from this `campaign replay "
                   "--json` result (default: the stated prior from the paper's numbers).")
@click.option("--site", "site_path", metavar="SITE.yaml",
              help="Plan for this site (as `campaign run --site`).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable plan (with units).")
def campaign_plan(config_path, rate, gpus, runs_per_gpu, train_hours, replay_path, site_path,
                  as_json) -> None:
    """MD nanoseconds, core- or GPU-hours, wall time and batch blocks of CONFIG.

    For example:

    \b
      polyhpc bench md                    # measures this machine: .polyhpc-bench/md/report.json
      polyhpc campaign plan paper         # on CPU cores at that speed
      polyhpc campaign plan paper --gpus 32 --rate 25 --runs-per-gpu 4
      polyhpc campaign plan paper-adaptive --gpus 32 --rate 25 --replay replay.json
      polyhpc campaign plan paper --gpus 32 --rate 25 --site site-slurm-gpu.yaml

    Blocks are counted only for batch sites (slurm, slurm-gpu, slurm-apptainer, pbs);
    parallel CPU runs come from the site (local: its workers). With md.adaptive the MD
    is the fixed protocol's times the expected fraction, stated as such.
    """  # noqa: D301
    import dataclasses

    from polyhpc.campaign.config import load_campaign_config, load_site
    from polyhpc.campaign.plan import format_plan, plan_campaign, read_rate, read_replay

    config = load_campaign_config(config_path)
    if site_path:
        config = dataclasses.replace(config, site=load_site(site_path))
    plan = plan_campaign(config, read_rate(rate), gpus, runs_per_gpu, train_hours,
                         read_replay(replay_path) if replay_path else None)
    _emit(plan, as_json, format_plan(plan), units={})


@campaign.command("replay")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The adaptive MD policy: an md.adaptive mapping, or a campaign config "
                   "with one (default: workflows/campaign-paper-adaptive.yaml).")
@click.option("--means", "means_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Replay on synthetic replicas around this table of per-candidate means "
                   "(CSV: smiles, conductivity_s_per_cm in S/cm; optional "
                   "conductivity_std_s_per_cm, iteration) instead of a campaign folder.")
@click.option("--reference-mean", type=click.FloatRange(min=0.0, min_open=True, max=0.01),
              help="With --means: the reference's (PEO's) mean conductivity, S/cm.")
@click.option("--replica-cv", type=click.FloatRange(min=0.0, min_open=True, max=5.0),
              default=0.2, show_default=True,
              help="With --means: relative replica spread (std / mean) where a row has none.")
@click.option("--seeds", type=click.IntRange(min=1, max=100000), default=100,
              show_default=True, help="With --means: how many synthetic campaigns to draw.")
@click.option("--replicas", type=click.IntRange(min=1, max=100),
              help="With --means: replicas per candidate (default: the policy file's, or 5).")
@click.option("--min-replicas", type=click.IntRange(min=1, max=100),
              help="With --means: finished replicas a winner needs (default: the policy "
                   "file's, or all replicas).")
@click.option("--profile", default="paper", show_default=True,
              help="With --means: MD profile whose durations the MD ns count.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result (with units).")
def campaign_replay(folder, policy_path, means_path, reference_mean, replica_cv, seeds,
                    replicas, min_replicas, profile, as_json) -> None:
    """What an adaptive MD policy would have saved and found, on finished or synthetic work.

    For example:

    \b
      polyhpc campaign replay runs/paper --policy my-policy.yaml
      polyhpc campaign replay --means candidates.csv --reference-mean 1.15e-3 \\
          --replica-cv 0.2 --seeds 200 --policy workflows/campaign-paper-adaptive.yaml

    FOLDER is a finished campaign run with the fixed protocol: its recorded replicas are
    raced with the policy as the campaign would race them online. With --means, replicas
    are drawn around the table's means instead. Both print md_fraction (MD used / the
    fixed protocol's), winners_found, false_winners and winners_missed for the policy and
    the fixed protocol side by side.
    """  # noqa: D301
    from polyhpc.campaign.racing import AdaptiveConfig
    from polyhpc.campaign.replay import (
        Design,
        format_replay,
        load_policy,
        read_means,
        replay_folder,
        replay_means,
    )
    from polyhpc.errors import ConfigError
    from polyhpc.resources import resolve_yaml

    if (folder is None) == (means_path is None):
        raise ConfigError("give a finished campaign FOLDER or --means FILE.csv (one of them)")
    policy_file = policy_path or resolve_yaml("paper-adaptive", "campaign")
    policy, md = load_policy(policy_file)
    if folder is not None:
        report = replay_folder(folder, policy)
    else:
        if reference_mean is None:
            raise ConfigError("--means needs --reference-mean (the reference's mean, S/cm)")
        from polyhpc.md.protocol import equilibration_stages, load_protocol

        protocol = load_protocol(resolve_yaml(md.get("profile") or profile, "md"))
        n = replicas or md.get("replicas") or 5
        need = min(min_replicas or md.get("min_replicas") or n, n)
        if policy.first_round > n:
            raise ConfigError(f"--policy {policy_file}: first_round {policy.first_round} is more "
                              f"than the {n} replicas per candidate")
        design = Design(n, need, protocol.production_ps,
                        sum(s.duration_ps for s in equilibration_stages(protocol)))
        report = replay_means(read_means(means_path), reference_mean, replica_cv, seeds,
                              policy, design)
    assert isinstance(policy, AdaptiveConfig)
    _emit(report, as_json, format_replay(report), units={})
