"""The Parsl apps of polyhpc and the Parsl session a campaign runs in.

This module and ``workflows/sites/`` are the only places that import Parsl.
A task is ``polyhpc.campaign.tasks.run_task(kind, spec)``; the session routes
each kind to an executor of the site: AI work (train, sample) to ``ai``, MD
replicas to ``md``, everything else (system building, analysis, surrogate) to ``cpu``. A site
with one executor (``local``) runs everything there.
"""

from __future__ import annotations

import importlib
import json
import logging
from concurrent.futures import Future
from pathlib import Path

from polyhpc.errors import ConfigError, MissingDependencyError

log = logging.getLogger(__name__)

#: Executor label each task kind prefers; a site without that label uses its first executor.
ROUTES = {"train": "ai", "sample": "ai", "build": "cpu", "md": "md", "analyze": "cpu",
          "surrogate_train": "cpu", "surrogate_predict": "cpu", "noop": "cpu"}


def _run_task(kind: str, spec: dict) -> dict:
    from polyhpc.campaign.tasks import run_task

    return run_task(kind, spec)


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


class ParslSession:
    """A loaded Parsl DataFlowKernel for one campaign run (a context manager).

    Parameters
    ----------
    site : polyhpc.campaign.config.SiteConfig
    run_dir : Path
        Parsl's run folder (inside the campaign folder; Parsl logs go there only).
    cores_per_task : int
        Cores of one MD replica, for sites that size workers by it.
    """

    def __init__(self, site, run_dir: Path, cores_per_task: int = 1, **site_options):
        self.site = site
        self.run_dir = Path(run_dir)
        self.cores_per_task = cores_per_task
        self.site_options = site_options
        self.dfk = None
        self._apps: dict[str, object] = {}
        self._in_image: tuple[str, ...] = ()  # task kinds the image's Python runs
        self.config = None

    def __enter__(self) -> ParslSession:
        import parsl
        from parsl import python_app

        # Parsl logs to run_dir/NNN/parsl.log; keep it off the terminal.
        logging.getLogger("parsl").propagate = False
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config = site_module(self.site.kind).make_config(
            self.site, run_dir=str(self.run_dir), cores_per_task=self.cores_per_task,
            **self.site_options)
        self.dfk = parsl.load(self.config)
        labels = [e.label for e in self.config.executors]
        for kind, route in ROUTES.items():
            label = route if route in labels else labels[0]
            self._apps[kind] = python_app(_run_task, executors=[label])
        if self.site.kind == "slurm-apptainer":
            from parsl import bash_app

            module = site_module(self.site.kind)
            self._in_image = module.IN_IMAGE
            self._command = module.task_command
            for kind in self._in_image:
                label = ROUTES[kind] if ROUTES[kind] in labels else labels[0]
                self._apps[f"{kind}:image"] = bash_app(_run_command, executors=[label])
        (Path(self.dfk.run_dir) / "config.txt").write_text(repr(self.config) + "\n")
        return self

    def submit(self, kind: str, spec: dict) -> Future:
        """Start a task; the future's result is what :func:`run_task` returns.

        On the ``slurm-apptainer`` site, training and sampling run the image's Python
        (``apptainer exec ... python -m polyhpc.campaign.tasks KIND SPEC.json``) and the
        result is read from the task's ``result.json``; MD replicas run on the host and
        only ``lmp`` enters the image (the spec's ``lmp_prefix``).
        """
        if kind in self._in_image:
            task_dir = Path(spec["task_dir"])
            task_dir.mkdir(parents=True, exist_ok=True)
            (task_dir / "spec.json").write_text(json.dumps(spec))
            command = self._command(self.site, kind, str(task_dir / "spec.json"))
            bash = self._apps[f"{kind}:image"](command, stdout=str(task_dir / "stdout.txt"),
                                               stderr=str(task_dir / "stderr.txt"))
            return _result_of(bash, task_dir)
        if kind in ("build", "md") and self.site.kind == "slurm-apptainer":
            spec = {**spec, "lmp_prefix": site_module(self.site.kind).apptainer_prefix(
                self.site)}
        return self._apps[kind](kind, spec)

    def __exit__(self, *exc) -> None:
        import parsl

        try:
            if self.dfk is not None:
                self.dfk.cleanup()
        finally:
            parsl.clear()
            self.dfk = None
