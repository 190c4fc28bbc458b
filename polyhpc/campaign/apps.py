"""The Parsl apps of polyhpc and the Parsl session a campaign runs in.

This module and ``workflows/sites/`` are the only places that import Parsl.
A task is ``polyhpc.campaign.tasks.run_task(kind, spec, task_dir)`` with the
spec encoded by :mod:`polyhpc.campaign.specs`; the session routes each kind
to an executor of the site: AI work (train, sample) to ``ai``, MD replicas
to ``md``, everything else (system building, analysis, surrogate) to
``cpu``. A site with one executor (``local``) runs everything there.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import threading
from concurrent.futures import Future
from pathlib import Path

from polyhpc.campaign.specs import encode
from polyhpc.errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)

#: Executor label each task kind prefers; a site without that label uses its only executor.
ROUTES = {"train": "ai", "sample": "ai", "build": "cpu", "md": "md", "analyze": "cpu",
          "surrogate_train": "cpu", "surrogate_predict": "cpu", "noop": "cpu"}
#: The pools a site with several executors must label (``ai``, ``md``, ``cpu``).
POOLS = tuple(sorted(set(ROUTES.values())))
#: Seconds a stopping session waits for Parsl's own cleanup before it stops the blocks itself.
CLEANUP_GRACE_S = 5.0


def _run_task(kind: str, spec: dict, task_dir: str | None) -> dict:
    from polyhpc.campaign.tasks import run_task

    return run_task(kind, spec, task_dir)


def _run_command(command: str, stdout: str = "", stderr: str = "") -> str:
    return command


def _result_of(bash: Future, task_dir: Path) -> Future:
    """A future of the task's result file, resolved when its shell command has ended."""
    out: Future = Future()

    def finish(done: Future) -> None:
        try:
            done.result()  # raises for a non-zero exit (parsl BashExitFailure)
            out.set_result(json.loads((task_dir / "result.json").read_text()))
        except Exception as exc:  # noqa: BLE001 - handed to the scheduler as the task's error
            out.set_exception(exc)

    bash.add_done_callback(finish)
    return out


def site_module(kind: str):
    """The site factory module ``polyhpc.workflows.sites.<kind>`` (dashes become underscores)."""
    name = f"polyhpc.workflows.sites.{kind.replace('-', '_')}"
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("parsl"):
            raise MissingDependencyError("Parsl is missing: pip install parsl") from None
        raise ConfigError(f"site.kind {kind!r}: no site factory {name}") from None


def executor_routes(labels: list[str], where: str) -> dict[str, str]:
    """Task kind -> executor label; several executors must be labelled ``ai``, ``md``, ``cpu``.

    Raises
    ------
    ConfigError
        A config with several executors lacks one of polyhpc's pool labels (named).
    """
    if len(labels) == 1:
        return {kind: labels[0] for kind in ROUTES}
    missing = [pool for pool in POOLS if pool not in labels]
    if missing:
        raise ConfigError(f"{where}: its executors are labelled {', '.join(labels)}; polyhpc "
                          f"needs one executor, or executors labelled {', '.join(POOLS)} "
                          f"(missing: {', '.join(missing)})")
    return dict(ROUTES)


class ParslSession:
    """A loaded Parsl DataFlowKernel for one campaign run (a context manager).

    Parameters
    ----------
    site : polyhpc.campaign.config.SiteConfig
    run_dir : Path
        Parsl's run folder (inside the campaign folder; Parsl logs go there only).
    cores_per_task : int
        Cores of one MD replica, for sites that size workers by it.
    dfk : parsl.DataFlowKernel, optional
        An already loaded DataFlowKernel to run in (a notebook's): the session neither
        loads nor cleans it up. Its executors are routed like a site's.
    """

    def __init__(self, site, run_dir: Path, cores_per_task: int = 1, dfk=None):
        self.site = site
        self.run_dir = Path(run_dir)
        self.cores_per_task = cores_per_task
        self.dfk = dfk
        self._own_dfk = dfk is None
        self._apps: dict[str, object] = {}
        self._in_image: tuple[str, ...] = ()  # task kinds the image's Python runs
        self.config = None

    def __enter__(self) -> ParslSession:
        import parsl
        from parsl import bash_app, python_app

        if self._own_dfk:
            # Parsl logs to run_dir/NNN/parsl.log; keep it off the terminal.
            logging.getLogger("parsl").propagate = False
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.config = site_module(self.site.kind).make_config(
                self.site, run_dir=str(self.run_dir), cores_per_task=self.cores_per_task)
            routes = executor_routes([e.label for e in self.config.executors],
                                     f"site {self.site.kind!r}")
            self.dfk = parsl.load(self.config)
            (Path(self.dfk.run_dir) / "config.txt").write_text(repr(self.config) + "\n")
        else:
            self.config = self.dfk.config
            routes = executor_routes([e.label for e in self.config.executors],
                                     "the loaded Parsl DataFlowKernel")
        for kind, label in routes.items():
            self._apps[kind] = python_app(_run_task, executors=[label], data_flow_kernel=self.dfk)
        if self.site.kind == "slurm-apptainer":
            module = site_module(self.site.kind)
            self._in_image = module.IN_IMAGE
            self._command = module.task_command
            for kind in self._in_image:
                self._apps[f"{kind}:image"] = bash_app(_run_command, executors=[routes[kind]],
                                                       data_flow_kernel=self.dfk)
        return self

    def submit(self, kind: str, spec, task_dir: Path | None = None) -> Future:
        """Start a task; the future's result is what :func:`run_task` returns.

        On the ``slurm-apptainer`` site, training and sampling run the image's Python
        (``apptainer exec ... python -m polyhpc.campaign.tasks TASK.json``) and the
        result is read from the task's ``result.json``; MD replicas run on the host and
        only ``lmp`` enters the image (the spec's ``lmp_prefix``). ``task_dir`` gets the
        task's ``started.json`` and ``result.json`` (None: no files, ``campaign bench``).
        """
        if kind in ("build", "md") and self.site.kind == "slurm-apptainer":
            spec = dataclasses.replace(spec, lmp_prefix=tuple(
                site_module(self.site.kind).apptainer_prefix(self.site)))
        data = encode(spec)
        if kind in self._in_image:
            task_dir = Path(task_dir)
            task_dir.mkdir(parents=True, exist_ok=True)
            task_file = task_dir / "task.json"
            task_file.write_text(json.dumps({"kind": kind, "spec": data,
                                             "task_dir": str(task_dir)}))
            command = self._command(self.site, str(task_file))
            bash = self._apps[f"{kind}:image"](command, stdout=str(task_dir / "stdout.txt"),
                                               stderr=str(task_dir / "stderr.txt"))
            return _result_of(bash, task_dir)
        return self._apps[kind](kind, data, str(task_dir) if task_dir else None)

    def __exit__(self, *exc) -> None:
        if not self._own_dfk:
            return
        import parsl

        dfk, self.dfk = self.dfk, None
        try:
            if dfk is not None:
                _bounded_cleanup(dfk, CLEANUP_GRACE_S)
        finally:
            parsl.clear()


def _bounded_cleanup(dfk, grace_s: float) -> None:
    """Parsl's cleanup, but never longer than ``grace_s``: then the blocks are cancelled.

    After Ctrl-C the signal has reached the whole process group, the interchange among
    them, and Parsl's cleanup can wait for it forever. The blocks (worker pools) are
    cancelled through their providers, which also ends their LAMMPS children.
    """
    done = threading.Event()

    def cleanup() -> None:
        try:
            dfk.cleanup()
        except Exception as exc:  # noqa: BLE001 - a failed cleanup is logged, not raised
            log.warning("Parsl cleanup failed: %s", exc)
        finally:
            done.set()

    threading.Thread(target=cleanup, name="parsl-cleanup", daemon=True).start()
    if done.wait(grace_s):
        return
    log.warning("Parsl did not shut down within %.0f s; cancelling its blocks", grace_s)
    for executor in dfk.executors.values():
        provider = getattr(executor, "provider", None)
        jobs = list(getattr(executor, "blocks_to_job_id", {}).values())
        if provider is not None and jobs:
            try:
                provider.cancel(jobs)
            except Exception as exc:  # noqa: BLE001 - best effort on the way out
                log.warning("cancelling blocks of %s failed: %s", executor.label, exc)
        process = getattr(executor, "interchange_proc", None)
        if process is not None and process.poll() is None:
            process.kill()
