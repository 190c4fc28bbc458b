"""Tasks in flight: submit through Parsl, follow them, record every change in the ledger.

The :class:`Scheduler` hands a ledger task to the Parsl session, marks it
submitted, notices when its worker has started it (the task's
``started.json``: host, pid, SLURM job id) and, when it ends, calls the
callback the driver gave for it. A task lost to the infrastructure (a Parsl
worker or block that died: walltime, ``scancel``, preemption) is submitted
again, up to ``max_infra_retries`` times, and counted apart from failures of
the simulation itself; an MD replica resubmitted this way continues at its
LAMMPS stage, because its work folder keeps the restart chain.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path

from polyhpc.campaign.specs import decode_outcome
from polyhpc.campaign.store import Ledger
from polyhpc.errors import PolyhpcError, StoppedFromOutside


class CampaignError(PolyhpcError):
    """A campaign cannot go on (a training or sampling task failed, a checkpoint changed)."""


class InfrastructureLost(PolyhpcError):
    """A task was lost to its worker or block more often than ``site.max_infra_retries``."""


def is_infrastructure_loss(exc: BaseException) -> bool:
    """Whether a task ended because its worker, block or connection was lost.

    Parsl raises its own exception types for these (``ManagerLost``, ``WorkerLost``,
    ``BadStateException``, ...). A task whose LAMMPS run was killed from outside (the
    block's cancel reached lmp before the worker) raises ``StoppedFromOutside``. Any
    other exception the task raised is a failure of the task, re-raised with its own type.
    """
    if isinstance(exc, StoppedFromOutside):
        return True
    module = type(exc).__module__ or ""
    return module.startswith("parsl.") and "Bash" not in type(exc).__name__


class Scheduler:
    """Submit ledger tasks and dispatch their outcomes.

    Parameters
    ----------
    ledger : Ledger
    session : polyhpc.campaign.apps.ParslSession
    task_root : Path
        Each task gets ``task_root/<task id>/`` for its ``started.json`` and ``result.json``.
    notify : callable
        Called (without arguments) after every state change, for progress output.
    max_infra_retries : int
        Resubmissions of a task lost to the infrastructure before it counts as failed.
    """

    def __init__(self, ledger: Ledger, session, task_root: Path,
                 notify: Callable[[], None] = lambda: None, max_infra_retries: int = 3,
                 poll_s: float = 1.0):
        self.ledger = ledger
        self.session = session
        self.task_root = Path(task_root)
        self.notify = notify
        self.max_infra_retries = max_infra_retries
        self.poll_s = poll_s
        self.active: dict[Future, tuple[int, str, dict, Callable]] = {}
        #: called every poll while tasks run (adaptive MD reads partial results)
        self.watchers: list[Callable[[], None]] = []
        self._last_poll = 0.0

    def task_dir(self, task_id: int) -> Path:
        """The folder of a task's markers and result file."""
        return self.task_root / str(task_id)

    def start(self, task: dict, kind: str, spec,
              on_done: Callable[[dict, object | None, BaseException | None], None]) -> None:
        """Submit ``task`` (a ledger row) with its typed ``spec``.

        ``on_done(task, outcome, error)`` is called later with the decoded outcome
        (:mod:`polyhpc.campaign.specs`) or the error the task ended with. A task already
        in flight is not submitted twice.
        """
        if any(task_id == task["id"] for task_id, *_ in self.active.values()):
            return
        self.ledger.mark_submitted(task["id"])
        future = self.session.submit(kind, spec, self.task_dir(task["id"]))
        self.active[future] = (task["id"], kind, spec, on_done)
        self.notify()

    def run_one(self, kind: str, iteration: int, spec, what: str, task: dict | None = None):
        """Run one task to its end and return its outcome; raise if it failed.

        ``task`` is the ledger row to run (default: the ``kind`` task of ``iteration``).
        """
        task = task or self.ledger.ensure_task(kind, iteration)
        outcome: dict = {}

        def done(task, result, error) -> None:
            if error is None:
                self.ledger.update_task(task["id"], status="done")
                outcome["result"] = result
            else:
                self.fail(task, error)
                outcome["error"] = error

        self.start(task, kind, spec, done)
        self.drain()
        if "error" in outcome:
            error = outcome["error"]
            raise CampaignError(f"{what} failed ({type(error).__name__}: {error}); see task "
                                f"{task['id']} in {self.ledger.path}") from None
        return outcome["result"]

    def fail(self, task: dict, error: BaseException | str, error_class: str | None = None,
             **fields) -> None:
        """Record a task as failed with its error class and message."""
        fields.setdefault("ended_at", self.ledger.task(task["id"])["ended_at"] or time.time())
        self.ledger.update_task(task["id"], status="failed",
                                error_class=error_class or type(error).__name__,
                                error_message=str(error)[:2000], **fields)

    def drain(self) -> None:
        """Follow every task in flight (and those callbacks start) until none is left."""
        while self.active:
            done, _ = wait(list(self.active), timeout=self.poll_s, return_when=FIRST_COMPLETED)
            for future in done:
                self._finish(future)
            if self._poll_started():
                for watch in list(self.watchers):
                    watch()
            self.ledger.touch_run()
            self.notify()

    def _finish(self, future: Future) -> None:
        task_id, kind, spec, on_done = self.active.pop(future)
        try:
            result, error = future.result(), None
        except Exception as exc:  # noqa: BLE001 - every task error is recorded, never raised
            result, error = None, exc
        ran = where(result) or where(_read_marker(self.task_dir(task_id)))
        if ran:
            self.ledger.update_task(task_id, **ran)
        task = self.ledger.task(task_id)
        if error is not None and is_infrastructure_loss(error):
            if task["infra_retries"] < self.max_infra_retries:
                self.ledger.update_task(task_id, infra_retries=task["infra_retries"] + 1,
                                        error_class=type(error).__name__,
                                        error_message=str(error)[:2000])
                self.ledger.event("infrastructure", f"{kind} task {task_id} lost "
                                  f"({type(error).__name__}: {error}); submitted again",
                                  task_id)
                self.start(self.ledger.task(task_id), kind, spec, on_done)
                return
            error = InfrastructureLost(
                f"lost to the infrastructure {task['infra_retries'] + 1} time(s), more than "
                f"site.max_infra_retries = {self.max_infra_retries} allows (last: "
                f"{type(error).__name__}: {error})")
            self.ledger.event("infrastructure", f"{kind} task {task_id}: {error}", task_id)
        outcome = None
        if error is None:
            try:
                outcome = decode_outcome(kind, result["outcome"])
            except (PolyhpcError, KeyError, TypeError) as exc:
                error = exc
        on_done(task, outcome, error)

    def _poll_started(self) -> bool:
        """Mark submitted tasks whose worker wrote ``started.json`` as running.

        Polls at most every 2 s; returns whether it polled (the watchers run then too).
        """
        now = time.monotonic()
        if now - self._last_poll < 2.0:
            return False
        self._last_poll = now
        for task_id, *_ in list(self.active.values()):
            task = self.ledger.task(task_id)
            if task["status"] != "submitted":
                continue
            started = _read_marker(self.task_dir(task_id))
            if started:
                self.ledger.update_task(task_id, status="running", **where(started))
        return True


def _read_marker(task_dir: Path) -> dict | None:
    """The ``started.json`` a task writes when its worker starts it (None before that)."""
    try:
        return json.loads((task_dir / "started.json").read_text())
    except (OSError, ValueError):
        return None


def where(result: dict | None) -> dict:
    """The ledger task fields a task result or start marker carries."""
    if not result:
        return {}
    return {k: result[k] for k in ("host", "pid", "slurm_job_id", "started_at", "ended_at")
            if k in result}
