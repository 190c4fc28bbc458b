"""The discovery loop: train, sample, evaluate, feed back, retrain (paper sections 3.1-4.1).

:class:`Campaign` runs the configured iterations in a campaign folder whose
ledger (:mod:`polyhpc.campaign.store`) says what is already done, so calling
it again continues a stopped campaign where it stopped: a finished task is
never rerun, an unfinished MD replica continues at its LAMMPS stage (its
folder keeps the restart chain), a task without a result runs again.

One iteration:

1. **Train** the generator on the HTP-MD set (top 5 % oversampled, PEO x4,000 in
   iteration 1; the fed-back polymers sharing 4,000 copies later), with the
   class threshold fixed at iteration 1.
2. **Sample** N candidates: valid, short, unique by identity and novel against
   the training set and every earlier candidate of this campaign.
3. **Evaluate** them (and, once per campaign, the reference PEO with the same
   evaluator): MD replicas, the surrogate, or the surrogate's picks by MD.
4. **Feed back** the reference and every candidate whose mean beats it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from polyhpc.campaign import evaluate as ev
from polyhpc.campaign import feedback as fb
from polyhpc.campaign.config import (
    MUTABLE_KEYS,
    CampaignConfig,
    changed_keys,
    check_campaign_config,
    config_hash,
    identity,
)
from polyhpc.campaign.scheduler import CampaignError, Scheduler
from polyhpc.campaign.store import LEDGER_NAME, Ledger
from polyhpc.config import to_dict
from polyhpc.errors import ConfigError

log = logging.getLogger(__name__)

#: Seed streams of a campaign (one SeedSequence entry each).
_STREAMS = {"train": 1, "sample": 2, "md": 3, "surrogate": 4}


def versions() -> dict:
    """Versions of everything that decides a campaign's numbers, for the ledger."""
    import platform

    import numpy
    import parsl
    import rdkit
    import sklearn
    import torch

    from polyhpc import __version__
    from polyhpc.md.runner import lmp_header

    return {"polyhpc": __version__, "python": platform.python_version(),
            "torch": torch.__version__, "rdkit": rdkit.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "parsl": parsl.__version__,
            "lammps": lmp_header()}


def open_ledger(config: CampaignConfig, folder: Path, source: str | None = None) \
        -> tuple[Ledger, CampaignConfig]:
    """The campaign's ledger and the config to run: new folders get a new ledger.

    An existing campaign continues only with its own settings. When its YAML text
    (``source``) is unchanged but polyhpc's defaults have moved since it started, it keeps
    the values it started with (and the ledger says which); an edited config is refused.

    Raises
    ------
    ConfigError
        The folder holds a campaign with another config (the changed keys are named),
        or files that are not a campaign's.
    """
    from polyhpc.config import load_config

    folder = Path(folder)
    if (folder / LEDGER_NAME).exists():
        ledger = Ledger.open(folder)
        if ledger.meta("config_hash") == config_hash(config):
            return ledger, config
        stored = ledger.meta("identity") or {}
        keys = changed_keys(stored, identity(config))
        if source is not None and source == ledger.meta("source"):
            mutable = {k: v for k, v in to_dict(config).items() if k in MUTABLE_KEYS}
            try:
                kept = check_campaign_config(load_config({**stored, **mutable}, CampaignConfig))
            except ConfigError as exc:
                ledger.close()
                raise ConfigError(f"{folder}: this polyhpc cannot read the settings the "
                                  f"campaign started with ({exc})") from None
            ledger.event("defaults", "polyhpc's defaults changed since this campaign started "
                                     f"({', '.join(keys)}); it keeps the values it started with")
            return ledger, kept
        ledger.close()
        raise ConfigError(
            f"{folder} holds a campaign started with another config (changed: "
            f"{', '.join(keys[:8])}{' ...' if len(keys) > 8 else ''}); rerun it with its "
            "own config or start a new --dir")
    if folder.exists() and any(p.name != LEDGER_NAME + ".new" for p in folder.iterdir()):
        raise ConfigError(f"{folder} is not empty and holds no campaign ledger: choose a new "
                          "or empty --dir")
    ledger = Ledger.create(folder, {"config": to_dict(config), "identity": identity(config),
                                    "config_hash": config_hash(config), "seed": config.seed,
                                    "source": source, "versions": versions()})
    return ledger, config


class Campaign:
    """One campaign folder and its config; :meth:`run` does (or continues) the work.

    Parameters
    ----------
    config : CampaignConfig
    folder : Path
        The campaign folder (ledger, Parsl run folder, per-iteration work folders).
    notify : callable, optional
        Called with no arguments after every state change (the CLI prints progress).
    """

    def __init__(self, config: CampaignConfig, folder: Path,
                 notify: Callable[[], None] | None = None, source: str | None = None):
        from polyhpc.data.registry import resolve
        from polyhpc.md.protocol import load_protocol
        from polyhpc.resources import resolve_yaml

        self.config = config
        self.folder = Path(folder).resolve()
        # fail before anything is written: the data every task needs must be there
        resolve(config.dataset)
        if config.evaluator.kind != "md":
            resolve("htpmd-properties")
        self.notify = notify or (lambda: None)
        self.ledger, self.config = open_ledger(config, self.folder, source)
        self.profile_path = resolve_yaml(self.config.md.profile, "md", option="md.profile")
        self.protocol = load_protocol(self.profile_path)
        self.replicas = self.config.md.replicas or self.protocol.replicas
        self.scheduler: Scheduler | None = None
        self.out_of_budget = False

    # ------------------------------------------------------------------ run
    def run(self) -> str:
        """Run or continue the campaign; return how it ended ("finished", "budget")."""
        from polyhpc.campaign.apps import ParslSession

        c = self.config
        self.ledger.begin_run(c.site.kind, to_dict(c))
        self.ledger.set_meta("config", to_dict(c))
        reset = self.ledger.reset_unfinished()
        if reset:
            self.ledger.event("resume", f"{reset} task(s) left unfinished by an earlier run "
                                        "are queued again")
        status = "failed"
        try:
            cores = c.md.threads * c.md.mpi_ranks
            with ParslSession(c.site, self.folder / "parsl", cores_per_task=cores) as session:
                self.scheduler = Scheduler(self.ledger, session, self.folder / "tasks",
                                           self.notify)
                for iteration in range(1, c.iterations + 1):
                    row = self.ledger.iteration(iteration)
                    if row is not None and row["status"] == "done":
                        continue
                    if self.budget_spent():
                        break
                    self._iteration(iteration)
                    if self.out_of_budget:
                        break
                status = "budget" if self.out_of_budget else "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            self.ledger.end_run(status)
            self.notify()
        return status

    def _iteration(self, it: int) -> None:
        self.ledger.set_iteration(it)
        threshold = self._threshold()
        checkpoint = self._train(it, threshold)
        self._sample(it, checkpoint)
        self._evaluate(it)
        if not self.out_of_budget:
            self._feed_back(it)
            self.ledger.set_iteration(it, status="done", finished_at=time.time())

    def seed(self, stream: str, *keys: int) -> int:
        """A seed of the campaign's ``stream`` for ``keys`` (iteration, candidate, attempt)."""
        state = np.random.SeedSequence([self.config.seed, _STREAMS[stream], *keys])
        return int(state.generate_state(1)[0] % (2**31 - 1))

    def budget_spent(self) -> bool:
        """Whether the time budget is spent (checked before every iteration and replica)."""
        hours = self.config.budget.max_hours
        if hours is None:
            return False
        now = time.time()
        spent = sum((r["ended_at"] or now) - r["started_at"] for r in self.ledger.runs())
        if spent / 3600.0 >= hours:
            if not self.out_of_budget:
                self.ledger.event("budget", f"time budget of {hours} h spent")
            self.out_of_budget = True
        return self.out_of_budget

    # ------------------------------------------------------------------ train, sample
    def _threshold(self) -> float:
        """The class threshold (mS/cm), fixed at iteration 1 and stored in the ledger."""
        stored = self.ledger.meta("threshold_mS_per_cm")
        if stored is not None:
            return float(stored)
        from polyhpc.data.htpmd import LOADERS, high_class_threshold

        data = self.config.generator.data
        frame = LOADERS[self.config.dataset]()
        value = data.threshold_mS_per_cm if data.threshold_mS_per_cm is not None else \
            high_class_threshold(frame["conductivity_mS_per_cm"].to_numpy(), data.high_fraction)
        # the report's training-set distribution comes from the ledger, like everything else
        self.ledger.set_meta("training_set", {
            "dataset": self.config.dataset,
            "conductivity_S_per_cm": frame["conductivity_S_per_cm"].round(10).tolist()})
        self.ledger.set_meta("threshold_mS_per_cm", value)
        return value

    def _train(self, it: int, threshold: float) -> dict:
        recorded = self.ledger.checkpoint(it, "generator")
        if recorded is not None:
            return recorded
        g = self.config.generator
        seed = self.seed("train", it)
        self.ledger.set_iteration(it, status="training", train_seed=seed)
        if it == 1:
            extra = g.data.extra
        else:
            extra = fb.extra_units(self.ledger.feedback(before=it),
                                   self.config.feedback.copies_total, self.config.feedback.label)
        config = g.generator_config(threshold_mS_per_cm=threshold, extra=extra)
        init = None
        train = dataclasses.replace(config.train, seed=seed)
        if g.mode == "finetune" and it > 1:
            init = self.ledger.checkpoint(it - 1, "generator")["path"]
            train = dataclasses.replace(train, max_iters=g.finetune_iters)
        config = dataclasses.replace(config, train=train)
        spec = {"dataset": self.config.dataset, "config": to_dict(config), "init": init,
                "out": str(self.folder / f"iter{it:02d}" / "train" / "model.pt")}
        result = self.scheduler.run_one("train", it, spec, f"training the generator of "
                                                           f"iteration {it}")
        info = {k: result[k] for k in ("iterations", "final_train_loss", "final_validation_loss",
                                       "wall_s", "n_parameters")}
        self.ledger.add_checkpoint(it, "generator", result["checkpoint"], result["sha256"], info)
        self.ledger.set_iteration(it, training=result["data_summary"],
                                  threshold_mS_per_cm=threshold)
        return self.ledger.checkpoint(it, "generator")

    def _known_units(self, it: int) -> list[str]:
        """Units the candidates of iteration ``it`` must be novel against."""
        from polyhpc.data.htpmd import LOADERS

        known = LOADERS[self.config.dataset]()["smiles"].tolist()
        known.append(self.config.reference_smiles)
        known += [e.smiles for e in self.config.generator.data.extra]
        known += [c["smiles"] for c in self.ledger.candidates() if c["iteration"] < it]
        return known

    def _sample(self, it: int, checkpoint: dict) -> None:
        from polyhpc.fileio import sha256_file

        row = self.ledger.iteration(it)
        if row["accepted"] is not None:
            return
        path = Path(checkpoint["path"])
        if not path.is_file() or sha256_file(path) != checkpoint["sha256"]:
            raise CampaignError(f"the generator checkpoint of iteration {it} ({path}) is "
                                "missing or changed since the ledger recorded it")
        seed = self.seed("sample", it)
        self.ledger.set_iteration(it, status="sampling", sample_seed=seed)
        folder = self.folder / f"iter{it:02d}" / "sample"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "known.txt").write_text("\n".join(self._known_units(it)) + "\n")
        sampling = dataclasses.replace(self.config.sampling, seed=seed)
        spec = {"checkpoint": str(path), "known": str(folder / "known.txt"),
                "sampling": to_dict(sampling)}
        report = self.scheduler.run_one("sample", it, spec, f"sampling iteration {it}")
        accepted = report["candidates"]
        per = report.get("draws_per_candidate", report["draws"] / len(accepted)
                         if accepted else None)
        self.ledger.record_sampling(it, accepted, draws=report["draws"], accepted=len(accepted),
                                    draws_per_candidate=per, rejected=report["rejected"],
                                    sampling=report["config"], status="evaluating")
        if not report["reached"]:
            self.ledger.event("sampling", f"iteration {it}: only {len(accepted)} of "
                                          f"{sampling.n} candidates in {report['draws']} draws")

    # ------------------------------------------------------------------ evaluate
    def _reference(self) -> dict:
        """The reference polymer's candidate row (created in iteration 1)."""
        from polyhpc.chem.canonical import canonical_repeat_unit

        smiles = self.config.reference_smiles
        ref_id = self.ledger.add_reference(1, smiles, canonical_repeat_unit(smiles))
        return self.ledger.candidate(ref_id)

    def _evaluate(self, it: int) -> None:
        kind = self.config.evaluator.kind
        candidates = self.ledger.candidates(it, role="candidate")
        reference = self._reference()
        if kind in ("surrogate", "surrogate+md"):
            self._surrogate(it, candidates + [reference])
            candidates = self.ledger.candidates(it, role="candidate")
            reference = self.ledger.candidate(reference["id"])
        if kind == "surrogate":
            return
        if kind == "surrogate+md":
            candidates = self._pick_for_md(it, candidates)
        pending = [c for c in candidates if not self.ledger.aggregates(c["id"], "md")]
        if not self.ledger.aggregates(reference["id"], "md"):
            pending.append(reference)
        self._run_md(it, pending)

    def _pick_for_md(self, it: int, candidates: list[dict]) -> list[dict]:
        if any(c["selected"] for c in candidates):
            return [c for c in candidates if c["selected"]]
        e = self.config.evaluator
        rows = [{"smiles": c["smiles"], "canonical": c["canonical"],
                 "surrogate_log10_conductivity": c["surrogate_mean"],
                 "surrogate_log10_conductivity_std": c["surrogate_std"]}
                for c in candidates if c["surrogate_mean"] is not None]
        picks = ev.pick_for_md(rows, e.md_top_k, e.acquisition, e.beta, e.max_similarity) \
            if rows else []
        order = {key: rank for rank, key in enumerate(picks)}
        with self.ledger.transaction() as db:
            for c in candidates:
                if c["canonical"] in order:
                    db.execute("UPDATE candidates SET selected = 1, acquisition = ? WHERE id = ?",
                               (order[c["canonical"]] + 1, c["id"]))
                else:
                    db.execute("UPDATE candidates SET status = 'not selected', reason = ? "
                               "WHERE id = ?", (f"surrogate acquisition picked {len(picks)} "
                                                f"others for MD", c["id"]))
        return [c for c in self.ledger.candidates(it, role="candidate") if c["selected"]]

    def _surrogate(self, it: int, candidates: list[dict]) -> None:
        ev.SurrogateEvaluator(self).run(it, candidates)

    def _run_md(self, it: int, candidates: list[dict]) -> None:
        ev.MdEvaluator(self).run(it, candidates)

    # ------------------------------------------------------------------ feed back
    def _feed_back(self, it: int) -> None:
        """Record the reference and this iteration's winners as fed back."""
        row = self.ledger.iteration(it)
        if row["status"] in ("fed back", "done"):
            return
        source = fb.SOURCES[self.config.evaluator.kind]
        reference = self._reference()
        ref_agg = self.ledger.aggregate(reference["id"], source)
        candidates = self.ledger.candidates(it, role="candidate")
        aggregates = {a["candidate_id"]: a for a in self.ledger.aggregates(source=source)}
        best = fb.winners(candidates, aggregates, ref_agg)
        if ref_agg is None or ref_agg["status"] != "ok":
            self.ledger.event("feedback", f"iteration {it}: the reference "
                                          f"{reference['smiles']} has no {source} result; "
                                          "nothing beats it")
        rows = [{"candidate_id": c["id"], "smiles": c["smiles"], "canonical": c["canonical"],
                 "source": source, "objective_mean": c["objective_mean"], "role": "winner"}
                for c in best]
        if self.config.feedback.include_reference:
            rows.insert(0, {"candidate_id": reference["id"], "smiles": reference["smiles"],
                            "canonical": reference["canonical"], "source": source,
                            "objective_mean": ref_agg["objective_mean"] if ref_agg else None,
                            "role": "reference"})
        self.ledger.record_feedback(it, rows)
