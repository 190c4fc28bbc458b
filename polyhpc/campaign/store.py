"""The campaign ledger: one SQLite file that is the single source of truth.

Everything a campaign computes is recorded here, each state change in one
transaction (WAL journal, ``synchronous=FULL``): the config and its hash,
versions and seeds, iterations, every sampled candidate with its identity
and the rejection counts, every task (kind, candidate, replica, attempt,
seed, status, host, times, work folder, error), every per-replica result,
the replica aggregates, the model checkpoints with their sha256, the
feedback and an event log. Resume, ``campaign status``, the report and the
surrogate's retraining all read it; a driver killed at any moment loses
no finished result, and another process may read it while a campaign runs.

Paths (task work folders, model files) are stored relative to the campaign
folder and returned absolute for where the folder is now, so a copied or
moved campaign continues in its own files.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from polyhpc.errors import PolyhpcError

# 2: paths relative to the campaign folder, per-property replica counts, MD decisions
SCHEMA_VERSION = 2
LEDGER_NAME = "ledger.sqlite"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY, started_at REAL NOT NULL, ended_at REAL, status TEXT NOT NULL,
    host TEXT, pid INTEGER, site TEXT, config TEXT, last_seen REAL);
CREATE TABLE iterations (
    iteration INTEGER PRIMARY KEY, status TEXT NOT NULL, started_at REAL, finished_at REAL,
    threshold_mS_per_cm REAL, train_seed INTEGER, sample_seed INTEGER, training TEXT,
    draws INTEGER, accepted INTEGER, draws_per_candidate REAL, rejected TEXT, sampling TEXT);
CREATE TABLE candidates (
    id INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, role TEXT NOT NULL,
    smiles TEXT NOT NULL, canonical TEXT, n_tokens INTEGER, draw INTEGER,
    status TEXT NOT NULL, reason TEXT, surrogate_mean REAL, surrogate_std REAL,
    acquisition REAL, selected INTEGER NOT NULL DEFAULT 0,
    UNIQUE (iteration, role, canonical));
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, iteration INTEGER NOT NULL,
    candidate_id INTEGER, replica INTEGER, attempt INTEGER NOT NULL DEFAULT 0,
    seed INTEGER, status TEXT NOT NULL, workdir TEXT, cores REAL, gpus REAL,
    submissions INTEGER NOT NULL DEFAULT 0, infra_retries INTEGER NOT NULL DEFAULT 0,
    host TEXT, pid INTEGER, slurm_job_id TEXT, submitted_at REAL, started_at REAL,
    ended_at REAL, error_class TEXT, error_message TEXT, continuations TEXT, info TEXT,
    UNIQUE (kind, iteration, candidate_id, replica, attempt));
CREATE TABLE results (
    id INTEGER PRIMARY KEY, task_id INTEGER, candidate_id INTEGER NOT NULL,
    replica INTEGER, source TEXT NOT NULL, conductivity_S_per_cm REAL,
    transference_number REAL, objective REAL, properties TEXT NOT NULL, provenance TEXT,
    recorded_at REAL NOT NULL, UNIQUE (task_id, candidate_id));
CREATE TABLE aggregates (
    candidate_id INTEGER NOT NULL, source TEXT NOT NULL, objective TEXT NOT NULL,
    n_replicas INTEGER NOT NULL, n_finished INTEGER NOT NULL, objective_mean REAL,
    objective_std REAL, conductivity_mean REAL, conductivity_std REAL, mean TEXT, std TEXT,
    n TEXT, status TEXT NOT NULL, PRIMARY KEY (candidate_id, source));
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, kind TEXT NOT NULL,
    path TEXT NOT NULL, sha256 TEXT NOT NULL, created_at REAL NOT NULL, info TEXT,
    UNIQUE (iteration, kind));
CREATE TABLE feedback (
    iteration INTEGER NOT NULL, candidate_id INTEGER NOT NULL, smiles TEXT NOT NULL,
    canonical TEXT NOT NULL, source TEXT NOT NULL, objective_mean REAL, role TEXT NOT NULL,
    PRIMARY KEY (iteration, canonical));
CREATE TABLE events (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, run_id INTEGER, kind TEXT NOT NULL,
    task_id INTEGER, message TEXT NOT NULL);
CREATE TABLE decisions (
    id INTEGER PRIMARY KEY, iteration INTEGER NOT NULL, candidate_id INTEGER NOT NULL,
    round INTEGER NOT NULL, production_ps REAL NOT NULL, n_replicas INTEGER NOT NULL,
    outcome TEXT NOT NULL, estimate_log10 REAL, reference_log10 REAL, statistic REAL,
    threshold REAL, bound_log10 REAL, rule TEXT NOT NULL, md_ns_saved REAL,
    message TEXT NOT NULL, at REAL NOT NULL, UNIQUE (candidate_id, round, production_ps));
CREATE TABLE partials (
    task_id INTEGER NOT NULL, candidate_id INTEGER NOT NULL, replica INTEGER NOT NULL,
    production_ps REAL NOT NULL, conductivity_S_per_cm REAL, objective REAL,
    properties TEXT NOT NULL, recorded_at REAL NOT NULL, PRIMARY KEY (task_id, production_ps));
"""


#: A candidate's status once its replica aggregate is recorded.
CANDIDATE_STATUS = {"ok": "evaluated", "incomplete": "incomplete", "failed": "failed",
                    "stopped": "stopped early"}


class LedgerError(PolyhpcError):
    """The ledger cannot be opened, is corrupt, or belongs to another campaign."""


def _dumps(value) -> str | None:
    """Standard JSON (NaN and infinities become null) for a ledger column."""
    from polyhpc.fileio import finite_json

    return None if value is None else json.dumps(finite_json(value), sort_keys=True,
                                                 default=float)


def _finite_or_none(value):
    import math

    return None if value is None or not math.isfinite(value) else float(value)


def _loads(text):
    return None if text is None else json.loads(text)


class Ledger:
    """An open campaign ledger (``<campaign folder>/ledger.sqlite``)."""

    def __init__(self, connection: sqlite3.Connection, path: Path, readonly: bool = False):
        self.db = connection
        self.path = path
        self.folder = Path(path).resolve().parent
        self.readonly = readonly
        self.run_id: int | None = None

    def relative(self, path: Path | str | None) -> str | None:
        """``path`` as the ledger stores it: relative to the campaign folder."""
        if path is None:
            return None
        path = Path(path)
        if not path.is_absolute():
            return path.as_posix()
        try:
            return path.resolve().relative_to(self.folder).as_posix()
        except ValueError:
            raise LedgerError(f"{path} lies outside the campaign folder {self.folder}; a "
                              "campaign writes nothing outside its folder") from None

    def resolve(self, stored: str | None) -> str | None:
        """A stored (relative) path as an absolute path where the folder is now."""
        return None if stored is None else str(self.folder / stored)

    # ------------------------------------------------------------------ open, create
    @staticmethod
    def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
        uri = f"file:{path}?mode={'ro' if readonly else 'rw'}"
        if readonly and not os.access(Path(path).parent, os.W_OK):
            # a read-only folder (a mount, an archive): SQLite cannot make the WAL's -shm
            # file there; nothing can write this ledger now, so read it as an immutable file
            uri += "&immutable=1"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=60.0)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 60000")
            if not readonly:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = FULL")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is corrupt or not a polyhpc ledger ({exc}); "
                              "it was left untouched") from None
        return db

    @classmethod
    def create(cls, folder: Path, meta: dict) -> Ledger:
        """A new ledger in ``folder`` with the given meta entries (config, hash, versions)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / LEDGER_NAME
        if path.exists():
            raise LedgerError(f"{path} exists already")
        partial = folder / (LEDGER_NAME + ".new")
        partial.unlink(missing_ok=True)
        db = sqlite3.connect(partial, isolation_level=None)
        db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")
        with db:
            db.executemany("INSERT INTO meta VALUES (?, ?)",
                           [("schema_version", str(SCHEMA_VERSION)),
                            ("created_at", repr(time.time()))]
                           + [(k, _dumps(v)) for k, v in meta.items() if v is not None])
        db.close()
        os.replace(partial, path)  # a half-created ledger never has the real name
        return cls.open(folder)

    @classmethod
    def open(cls, folder: Path, readonly: bool = False) -> Ledger:
        """Open an existing ledger; its schema version must be this polyhpc's."""
        path = Path(folder) / LEDGER_NAME
        if not path.is_file():
            raise LedgerError(f"{folder} holds no campaign ledger ({LEDGER_NAME}); start one "
                              "with `polyhpc campaign run CONFIG --dir DIR`")
        db = cls._connect(path, readonly)
        try:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is not a polyhpc ledger ({exc}); it was left "
                              "untouched") from None
        if row is None or row[0] != str(SCHEMA_VERSION):
            found = None if row is None else row[0]
            raise LedgerError(f"{path} has ledger schema version {found}, this polyhpc reads "
                              f"version {SCHEMA_VERSION}")
        return cls(db, path, readonly)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def transaction(self):
        """One atomic state change: everything inside commits together or not at all."""
        if self.readonly:
            raise LedgerError(f"{self.path} is open read-only")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _select(self, table: str, order: str, decode: tuple[str, ...] = (),
                **filters) -> list[dict]:
        """Rows of ``table`` matching every filter that is not None, JSON fields decoded."""
        given = {k: v for k, v in filters.items() if v is not None}
        where = "".join(f" AND {column} = ?" for column in given)
        rows = []
        for r in self.db.execute(f"SELECT * FROM {table} WHERE 1{where} ORDER BY {order}",
                                 tuple(given.values())):
            row = dict(r)
            for key in decode:
                row[key] = _loads(row[key])
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ meta, runs, events
    def meta(self, key: str, default=None):
        """A meta entry (JSON-decoded)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except ValueError:
            return row[0]

    def set_meta(self, key: str, value) -> None:
        """Set a meta entry."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, _dumps(value)))

    def begin_run(self, site: str, config: dict) -> int:
        """Record the start of a driver run; earlier runs left "running" are marked killed.

        A killed run ends when it was last seen alive (:meth:`touch_run`).
        """
        with self.transaction() as db:
            db.execute("UPDATE runs SET status = 'killed', ended_at = coalesce(last_seen, "
                       "started_at) WHERE status = 'running'")
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, host, pid, site, config) "
                "VALUES (?, 'running', ?, ?, ?, ?)",
                (time.time(), socket.gethostname(), os.getpid(), site, _dumps(config)))
            self.run_id = cursor.lastrowid
        return self.run_id

    def touch_run(self, every_s: float = 10.0) -> None:
        """Note that this driver run is alive (at most every ``every_s`` seconds)."""
        now = time.time()
        if self.run_id is None or now - getattr(self, "_touched", 0.0) < every_s:
            return
        self._touched = now
        with self.transaction() as db:
            db.execute("UPDATE runs SET last_seen = ? WHERE id = ?", (now, self.run_id))

    def end_run(self, status: str) -> None:
        """Record how this driver run ended (finished, stopped, interrupted, failed)."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET ended_at = ?, status = ? WHERE id = ?",
                       (time.time(), status, self.run_id))

    def runs(self) -> list[dict]:
        """Every driver run."""
        return self._select("runs", "id")

    def event(self, kind: str, message: str, task_id: int | None = None) -> None:
        """Append to the event log (continuations, retries, budget stops...)."""
        with self.transaction() as db:
            db.execute("INSERT INTO events (at, run_id, kind, task_id, message) "
                       "VALUES (?, ?, ?, ?, ?)", (time.time(), self.run_id, kind, task_id,
                                                  message))

    def events(self, kind: str | None = None) -> list[dict]:
        """Events, oldest first (optionally of one kind)."""
        return self._select("events", "id", kind=kind)

    # ------------------------------------------------------------------ iterations
    def iteration(self, iteration: int) -> dict | None:
        """The iteration's row (JSON fields decoded), or None."""
        row = self.db.execute("SELECT * FROM iterations WHERE iteration = ?",
                              (iteration,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        for key in ("training", "rejected", "sampling"):
            out[key] = _loads(out[key])
        return out

    def iterations(self) -> list[dict]:
        """Every iteration row."""
        numbers = [r[0] for r in self.db.execute("SELECT iteration FROM iterations ORDER BY 1")]
        return [self.iteration(n) for n in numbers]

    def set_iteration(self, iteration: int, **fields) -> None:
        """Create or update an iteration row."""
        for key in ("training", "rejected", "sampling"):
            if key in fields:
                fields[key] = _dumps(fields[key])
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO iterations (iteration, status, started_at) "
                       "VALUES (?, 'running', ?)", (iteration, time.time()))
            if fields:
                names = ", ".join(f"{k} = ?" for k in fields)
                db.execute(f"UPDATE iterations SET {names} WHERE iteration = ?",
                           (*fields.values(), iteration))

    # ------------------------------------------------------------------ candidates
    def record_sampling(self, iteration: int, candidates: list[dict], **fields) -> None:
        """Sampled candidates and the sampling summary of an iteration, in one transaction."""
        for key in ("rejected", "sampling"):
            if key in fields:
                fields[key] = _dumps(fields[key])
        with self.transaction() as db:
            for c in candidates:
                db.execute(
                    "INSERT INTO candidates (iteration, role, smiles, canonical, n_tokens, draw, "
                    "status) VALUES (?, 'candidate', ?, ?, ?, ?, 'sampled')",
                    (iteration, c["smiles"], c["canonical"], c.get("n_tokens"), c.get("draw")))
            names = ", ".join(f"{k} = ?" for k in fields)
            db.execute(f"UPDATE iterations SET {names} WHERE iteration = ?",
                       (*fields.values(), iteration))

    def add_reference(self, iteration: int, smiles: str, canonical: str) -> int:
        """The reference polymer (PEO) as a candidate row of role "reference"."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO candidates (iteration, role, smiles, canonical, "
                       "status) VALUES (?, 'reference', ?, ?, 'sampled')",
                       (iteration, smiles, canonical))
        row = self.db.execute("SELECT id FROM candidates WHERE role = 'reference' AND "
                              "canonical = ?", (canonical,)).fetchone()
        return int(row[0])

    def candidates(self, iteration: int | None = None, role: str | None = None) -> list[dict]:
        """Candidate rows, in sampling order."""
        return self._select("candidates", "id", iteration=iteration, role=role)

    def candidate(self, candidate_id: int) -> dict:
        """One candidate row."""
        return dict(self.db.execute("SELECT * FROM candidates WHERE id = ?",
                                    (candidate_id,)).fetchone())

    def update_candidate(self, candidate_id: int, **fields) -> None:
        """Change a candidate's status, reason, surrogate values or selection."""
        names = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE candidates SET {names} WHERE id = ?",
                       (*fields.values(), candidate_id))

    def select_for_md(self, candidate_ids: list[int], others: list[int], reason: str) -> None:
        """Mark ``candidate_ids`` picked for MD (rank = list order), the ``others`` not, at once."""
        with self.transaction() as db:
            for rank, candidate_id in enumerate(candidate_ids, start=1):
                db.execute("UPDATE candidates SET selected = 1, acquisition = ? WHERE id = ?",
                           (rank, candidate_id))
            for candidate_id in others:
                db.execute("UPDATE candidates SET status = 'not selected', reason = ? "
                           "WHERE id = ?", (reason, candidate_id))

    # ------------------------------------------------------------------ tasks
    def ensure_task(self, kind: str, iteration: int, candidate_id: int | None = None,
                    replica: int | None = None, attempt: int = 0, **fields) -> dict:
        """The task with this identity, created "pending" with ``fields`` if new."""
        key = (kind, iteration, candidate_id, replica, attempt)
        row = self._task_by_key(*key)
        if "workdir" in fields:
            fields["workdir"] = self.relative(fields["workdir"])
        if row is None:
            columns = ["kind", "iteration", "candidate_id", "replica", "attempt", "status",
                       *fields]
            with self.transaction() as db:
                db.execute(f"INSERT INTO tasks ({', '.join(columns)}) VALUES "
                           f"({', '.join('?' * len(columns))})",
                           (*key, "pending", *fields.values()))
            row = self._task_by_key(*key)
        return row

    def _task_by_key(self, kind, iteration, candidate_id, replica, attempt) -> dict | None:
        row = self.db.execute(
            "SELECT * FROM tasks WHERE kind = ? AND iteration = ? AND candidate_id IS ? AND "
            "replica IS ? AND attempt = ?",
            (kind, iteration, candidate_id, replica, attempt)).fetchone()
        return None if row is None else self._task_dict(row)

    def _task_dict(self, row) -> dict:
        out = dict(row)
        out["continuations"] = _loads(out["continuations"]) or []
        out["info"] = _loads(out["info"])
        out["workdir"] = self.resolve(out["workdir"])
        return out

    def task(self, task_id: int) -> dict:
        """One task row."""
        return self._task_dict(self.db.execute("SELECT * FROM tasks WHERE id = ?",
                                               (task_id,)).fetchone())

    def tasks(self, kind: str | None = None, iteration: int | None = None,
              candidate_id: int | None = None, status: str | None = None) -> list[dict]:
        """Task rows matching every given filter, oldest first."""
        rows = self._select("tasks", "id", ("continuations", "info"), kind=kind,
                            iteration=iteration, candidate_id=candidate_id, status=status)
        for row in rows:
            row["continuations"] = row["continuations"] or []
            row["workdir"] = self.resolve(row["workdir"])
        return rows

    def update_task(self, task_id: int, **fields) -> None:
        """Change a task's state and details in one transaction."""
        for key in ("continuations", "info"):
            if key in fields:
                fields[key] = _dumps(fields[key])
        names = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(f"UPDATE tasks SET {names} WHERE id = ?", (*fields.values(), task_id))

    def mark_submitted(self, task_id: int) -> None:
        """Handed to Parsl: the submission count goes up (a rerun is visible here)."""
        with self.transaction() as db:
            db.execute("UPDATE tasks SET status = 'submitted', submitted_at = ?, "
                       "submissions = submissions + 1 WHERE id = ?", (time.time(), task_id))

    def reset_unfinished(self) -> int:
        """Tasks a dead driver left submitted or running go back to pending."""
        with self.transaction() as db:
            cursor = db.execute("UPDATE tasks SET status = 'pending' "
                                "WHERE status IN ('submitted', 'running')")
        return cursor.rowcount

    # ------------------------------------------------------------------ results
    def record_result(self, task_id: int, candidate_id: int, replica: int | None, source: str,
                      properties: dict, objective: float, provenance: dict | None = None,
                      task_fields: dict | None = None) -> None:
        """A per-replica result and its task's end, in one transaction."""
        fields = {"status": "done", **(task_fields or {})}
        for key in ("continuations", "info"):
            if key in fields:
                fields[key] = _dumps(fields[key])
        names = ", ".join(f"{k} = ?" for k in fields)
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO results (task_id, candidate_id, replica, source, "
                "conductivity_S_per_cm, transference_number, objective, properties, provenance, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (task_id, candidate_id, replica, source, properties.get("conductivity"),
                 properties.get("transference_number"), objective, _dumps(properties),
                 _dumps(provenance), time.time()))
            db.execute(f"UPDATE tasks SET {names} WHERE id = ?", (*fields.values(), task_id))

    def results(self, candidate_id: int | None = None, source: str | None = None) -> list[dict]:
        """Per-replica results (properties decoded), in replica order."""
        return self._select("results", "replica, id", ("properties", "provenance"),
                            candidate_id=candidate_id, source=source)

    def set_aggregate(self, candidate_id: int, source: str, row: dict) -> None:
        """The replica aggregate of a candidate (replaces an earlier one)."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO aggregates (candidate_id, source, objective, n_replicas, "
                "n_finished, objective_mean, objective_std, conductivity_mean, conductivity_std, "
                "mean, std, n, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (candidate_id, source, row["objective"], row["n_replicas"], row["n_finished"],
                 row["objective_mean"], row["objective_std"], row["conductivity_mean"],
                 row["conductivity_std"], _dumps(row["mean"]), _dumps(row["std"]),
                 _dumps(row["n"]), row["status"]))
            db.execute("UPDATE candidates SET status = ? WHERE id = ?",
                       (CANDIDATE_STATUS[row["status"]], candidate_id))

    def aggregate(self, candidate_id: int, source: str | None = None) -> dict | None:
        """A candidate's aggregate (MD preferred over surrogate when source is None)."""
        rows = self.aggregates(candidate_id=candidate_id, source=source)
        rows.sort(key=lambda r: r["source"] != "md")
        return rows[0] if rows else None

    def aggregates(self, candidate_id: int | None = None, source: str | None = None) -> list:
        """Aggregate rows (JSON decoded)."""
        return self._select("aggregates", "candidate_id, source", ("mean", "std", "n"),
                            candidate_id=candidate_id, source=source)

    # ------------------------------------------------------------------ models, feedback
    def add_checkpoint(self, iteration: int, kind: str, path: str, sha256: str,
                       info: dict | None = None) -> None:
        """A model file of an iteration (generator or surrogate) and its sha256."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO checkpoints (iteration, kind, path, sha256, "
                       "created_at, info) VALUES (?, ?, ?, ?, ?, ?)",
                       (iteration, kind, self.relative(path), sha256, time.time(),
                        _dumps(info)))

    def checkpoint(self, iteration: int, kind: str) -> dict | None:
        """The recorded model of an iteration, or None."""
        row = self.db.execute("SELECT * FROM checkpoints WHERE iteration = ? AND kind = ?",
                              (iteration, kind)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["info"] = _loads(out["info"])
        out["path"] = self.resolve(out["path"])
        return out

    # ------------------------------------------------------------------ adaptive MD
    def record_decision(self, iteration: int, candidate_id: int, round_: int,
                        decision: dict, md_ns_saved: float, message: str) -> bool:
        """One look of replica racing (:mod:`polyhpc.campaign.racing`); False if recorded.

        A decision is recorded once: a resumed campaign finds it and acts on it again, so
        no decision is redone or skipped.
        """
        with self.transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO decisions (iteration, candidate_id, round, production_ps, "
                "n_replicas, outcome, estimate_log10, reference_log10, statistic, threshold, "
                "bound_log10, rule, md_ns_saved, message, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (iteration, candidate_id, round_, decision["production_ps"],
                 decision["n_replicas"], decision["outcome"],
                 *(_finite_or_none(decision[k]) for k in ("estimate_log10", "reference_log10",
                                                          "statistic", "threshold",
                                                          "bound_log10")),
                 decision["rule"], md_ns_saved, message, time.time()))
        return cursor.rowcount > 0

    def decisions(self, candidate_id: int | None = None,
                  iteration: int | None = None) -> list[dict]:
        """Racing decisions, oldest first."""
        return self._select("decisions", "id", candidate_id=candidate_id, iteration=iteration)

    def record_partial(self, task_id: int, candidate_id: int, replica: int,
                       production_ps: float, properties: dict, objective: float) -> None:
        """A replica's analysis at ``production_ps`` of its production (a partial result)."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO partials VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (task_id, candidate_id, replica, production_ps,
                        properties.get("conductivity"), _finite_or_none(objective),
                        _dumps(properties), time.time()))

    def partials(self, candidate_id: int | None = None, task_id: int | None = None) -> list:
        """Partial-production results (properties decoded)."""
        return self._select("partials", "task_id, production_ps", ("properties",),
                            candidate_id=candidate_id, task_id=task_id)

    def record_feedback(self, iteration: int, rows: list[dict]) -> None:
        """Polymers an iteration adds to the training set, with the iteration marked fed back."""
        with self.transaction() as db:
            for r in rows:
                db.execute("INSERT OR REPLACE INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (iteration, r["candidate_id"], r["smiles"], r["canonical"],
                            r["source"], r["objective_mean"], r["role"]))
            db.execute("UPDATE iterations SET status = 'fed back' WHERE iteration = ?",
                       (iteration,))

    def feedback(self, before: int | None = None) -> list[dict]:
        """Feedback rows (of iterations before ``before``), oldest first."""
        query = "SELECT * FROM feedback" + (" WHERE iteration < ?" if before else "")
        return [dict(r) for r in self.db.execute(query + " ORDER BY iteration, rowid",
                                                 (before,) if before else ())]


#: The ledger tables a notebook reads, and their JSON columns.
FRAME_TABLES = {"iterations": ("training", "rejected", "sampling"), "candidates": (),
                "decisions": (), "partials": ("properties",),
                "tasks": ("continuations", "info"), "results": ("properties", "provenance"),
                "aggregates": ("mean", "std", "n"), "checkpoints": ("info",),
                "feedback": (), "events": (), "runs": ("config",)}


def ledger_frames(folder: Path | str) -> dict:
    """A campaign's ledger as pandas DataFrames, one per table, opened read-only.

    JSON columns are decoded (dicts) and paths are absolute for where the folder is now;
    ``results`` holds one row per replica (``conductivity_S_per_cm``, ``objective``,
    ``properties``). Safe while the campaign runs.

    Parameters
    ----------
    folder : Path or str
        The campaign folder (``--dir`` of ``polyhpc campaign run``).

    Returns
    -------
    dict of str to pandas.DataFrame
        ``iterations``, ``candidates``, ``tasks``, ``results``, ``aggregates``,
        ``checkpoints``, ``feedback``, ``events`` and ``runs``.
    """
    import pandas as pd

    ledger = Ledger.open(Path(folder), readonly=True)
    try:
        frames = {}
        for table, columns in FRAME_TABLES.items():
            rows = ledger._select(table, "rowid", columns)
            for row in rows:
                for key in ("workdir", "path"):
                    if key in row and table in ("tasks", "checkpoints"):
                        row[key] = ledger.resolve(row[key])
            frames[table] = pd.DataFrame(rows)
        return frames
    finally:
        ledger.close()
