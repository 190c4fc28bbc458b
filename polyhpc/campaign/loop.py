"""The discovery loop: train, sample, evaluate, feed back, retrain (paper sections 3.1-4.1).

:class:`Campaign` runs the configured iterations in a campaign folder whose
ledger (:mod:`polyhpc.campaign.store`) says what is already done, so calling
it again continues a stopped campaign where it stopped: a finished task is
never rerun, an unfinished MD replica continues at its LAMMPS stage (its
folder keeps the restart chain), a task without a result runs again. One
driver at a time: a second one on the same folder is refused
(:mod:`polyhpc.campaign.driverlock`).

One iteration:

1. **Train** the generator on the HTP-MD set (top 5 % oversampled, PEO x4,000 in
   iteration 1; the fed-back polymers sharing 4,000 copies later), with the
   class threshold fixed at iteration 1.
2. **Sample** N candidates: valid, short, unique by identity and novel against
   the training set and every earlier candidate of this campaign.
3. **Evaluate** them (and, once per campaign, the reference PEO with the same
   evaluator): MD replicas, the surrogate, or the surrogate's picks by MD
   (:mod:`polyhpc.campaign.evaluate`).
4. **Feed back** the reference and every candidate whose mean beats it.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from polyhpc.campaign import feedback as fb
from polyhpc.campaign.config import (
    MUTABLE_KEYS,
    RESOLVED_KEYS,
    CampaignConfig,
    campaign_identity,
    campaign_protocol,
    changed_keys,
    check_campaign_config,
    force_field_path,
    identity_hash,
)
from polyhpc.campaign.driverlock import DriverLock, check_folder
from polyhpc.campaign.evaluate import Budget, EvaluationContext, SeedStreams, make_evaluator
from polyhpc.campaign.fidelity import md_resolves_transport, result_source
from polyhpc.campaign.scheduler import CampaignError, Scheduler
from polyhpc.campaign.specs import SampleSpec, TrainSpec
from polyhpc.campaign.store import LEDGER_NAME, Ledger
from polyhpc.config import to_dict
from polyhpc.errors import ConfigError, RunFailedError

log = logging.getLogger(__name__)


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


def _describe_resolved(keys: list[str], stored: dict, given: dict) -> str:
    """What changed in the MD protocol or the force-field file, in a person's words."""
    parts = []
    protocol = [k for k in keys if k.startswith("md_protocol.")]
    if protocol:
        name = stored.get("md_protocol", {}).get("name")
        settings = [k.removeprefix("md_protocol.settings.") for k in protocol
                    if k.startswith("md_protocol.settings.")]
        parts.append(f"the MD profile {name!r} changed since the campaign started "
                     f"({', '.join(settings[:6]) or 'its settings'})")
    if any(k.startswith("force_field.") for k in keys):
        old, new = stored.get("force_field", {}), given.get("force_field", {})
        parts.append(f"the force-field file {new.get('file')} changed since the campaign "
                     f"started (sha256 {str(old.get('sha256'))[:12]} -> "
                     f"{str(new.get('sha256'))[:12]})")
    return "; ".join(parts)


def open_ledger(config: CampaignConfig, folder: Path, source: str | None = None) \
        -> tuple[Ledger, CampaignConfig]:
    """The campaign's ledger and the config to run: new folders get a new ledger.

    An existing campaign continues only with its own settings. When its YAML text
    (``source``) is unchanged but polyhpc's defaults have moved since it started, it keeps
    the values it started with (and the ledger says which); an edited config is refused.
    An edited MD profile or force-field file is always refused, naming what changed.

    Raises
    ------
    ConfigError
        The folder holds a campaign with another config, profile or force field (named),
        or files that are not a campaign's.
    """
    from polyhpc.config import load_config

    folder = Path(folder)
    check_folder(folder)
    given = campaign_identity(config)
    if (folder / LEDGER_NAME).exists():
        ledger = Ledger.open(folder)
        if ledger.meta("config_hash") == identity_hash(given):
            return ledger, config
        stored = ledger.meta("identity") or {}
        keys = changed_keys(stored, given)
        resolved = [k for k in keys if k.split(".")[0] in RESOLVED_KEYS]
        if resolved:
            ledger.close()
            raise ConfigError(f"{folder}: {_describe_resolved(resolved, stored, given)}; its "
                              "results would not be comparable: restore it, or start a new "
                              "--dir")
        if source is not None and source == ledger.meta("source"):
            mutable = {k: v for k, v in to_dict(config).items() if k in MUTABLE_KEYS}
            started = {k: v for k, v in stored.items() if k not in RESOLVED_KEYS}
            try:
                kept = check_campaign_config(load_config({**started, **mutable},
                                                         CampaignConfig))
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
    ledger = Ledger.create(folder, {"config": to_dict(config), "identity": given,
                                    "config_hash": identity_hash(given), "seed": config.seed,
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
    source : str, optional
        The config's YAML text (see :func:`open_ledger`).
    dfk : parsl.DataFlowKernel, optional
        Run in this already loaded DataFlowKernel instead of loading the site's config.
    """

    def __init__(self, config: CampaignConfig, folder: Path,
                 notify: Callable[[], None] | None = None, source: str | None = None,
                 dfk=None):
        from polyhpc.data.registry import resolve
        from polyhpc.fileio import sha256_file

        # absolute, links kept: a link is how a folder of an unsafe name is reached
        self.folder = Path(folder).absolute()
        # fail before anything is written: the data every task needs must be there
        resolve(config.dataset)
        if config.evaluator.kind != "md":
            resolve("htpmd-properties")
        check_folder(self.folder)
        self.lock = DriverLock(self.folder)
        try:
            self.ledger, self.config = open_ledger(config, self.folder, source)
        except BaseException:
            self.lock.release()
            raise
        self.notify = notify or (lambda: None)
        self.dfk = dfk
        self.protocol = campaign_protocol(self.config)
        md_results, self.md_reason = md_resolves_transport(to_dict(self.protocol))
        #: where the campaign's results come from (None: a pipeline check, no results)
        self.result_source = result_source(self.config.evaluator.kind, md_results)
        frc = force_field_path(self.config)
        self.seeds = SeedStreams(self.config.seed)
        self.budget = Budget(self.ledger, self.config.budget.max_hours,
                             self.config.budget.max_md_replicas)
        self.context = EvaluationContext(
            ledger=self.ledger, scheduler=None, config=self.config, protocol=self.protocol,
            frc=frc, frc_sha256=sha256_file(frc), seeds=self.seeds, budget=self.budget)

    def close(self) -> None:
        """Close the ledger and let another driver run this campaign."""
        self.ledger.close()
        self.lock.release()

    @property
    def out_of_budget(self) -> bool:
        """Whether a budget limit stopped the campaign."""
        return self.budget.exhausted

    # ------------------------------------------------------------------ run
    def run(self) -> str:
        """Run or continue the campaign; return how it ended ("finished", "budget").

        Raises
        ------
        RunFailedError
            An iteration evaluated nothing (every candidate's runs failed), or the
            reference has no result: the ledger says why, the run is recorded failed.
        """
        c = self.config
        self.ledger.begin_run(c.site.kind, to_dict(c))
        self.ledger.set_meta("config", to_dict(c))
        reset = self.ledger.reset_unfinished()
        if reset:
            self.ledger.event("resume", f"{reset} task(s) left unfinished by an earlier run "
                                        "are queued again")
        status = "failed"
        try:
            with self.session():
                for iteration in range(1, c.iterations + 1):
                    row = self.ledger.iteration(iteration)
                    if row is not None and row["status"] == "done":
                        continue
                    if self.budget.time_spent():
                        break
                    self._iteration(iteration)
                    if self.budget.exhausted:
                        break
                status = "budget" if self.budget.exhausted else "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            try:
                self.ledger.end_run(status)
                self.notify()
            except (OSError, sqlite3.OperationalError) as exc:  # a full disk: say the first
                log.debug("could not record the end of the run: %s", exc)
        return status

    @contextmanager
    def session(self) -> Iterator[EvaluationContext]:
        """The site's Parsl session and a scheduler on it: the evaluators' context.

        :meth:`run` works inside it; a test or a notebook can hand the context to an
        evaluator directly (``MdEvaluator(context).run(...)``).
        """
        from polyhpc.campaign.apps import ParslSession

        c = self.config
        if self.ledger.run_id is None:
            self.ledger.begin_run(c.site.kind, to_dict(c))
        with ParslSession(c.site, self.folder / "parsl", c.md.threads * c.md.mpi_ranks,
                          dfk=self.dfk) as parsl_session:
            self.context.scheduler = Scheduler(
                self.ledger, parsl_session, self.folder / "tasks", self.notify,
                max_infra_retries=c.site.max_infra_retries)
            try:
                yield self.context
            finally:
                self.context.scheduler = None

    @property
    def scheduler(self) -> Scheduler | None:
        """The scheduler of the running session (None outside :meth:`run`)."""
        return self.context.scheduler

    def _iteration(self, it: int) -> None:
        self.ledger.set_iteration(it)
        threshold = self._threshold()
        checkpoint = self._train(it, threshold)
        self._sample(it, checkpoint)
        self._evaluate(it)
        if not self.budget.exhausted:
            self._check_evaluated(it)
            self._feed_back(it)
            self.ledger.set_iteration(it, status="done", finished_at=time.time())

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
        seed = self.seeds.seed("train", it)
        self.ledger.set_iteration(it, status="training", train_seed=seed)
        if it == 1:
            extra = g.data.extra
        else:
            extra = fb.extra_units(self.ledger.feedback(before=it),
                                   self.config.feedback.copies_total, self.config.feedback.label)
        config = g.generator_config(threshold_mS_per_cm=threshold, extra=extra)
        train = dataclasses.replace(config.train, seed=seed)
        init = None
        if g.mode == "finetune" and it > 1:
            init = self.ledger.checkpoint(it - 1, "generator")
            train = dataclasses.replace(train, max_iters=g.finetune_iters)
        spec = TrainSpec(dataset=self.config.dataset,
                         config=dataclasses.replace(config, train=train),
                         out=str(self.folder / f"iter{it:02d}" / "train" / "model.pt"),
                         init=init["path"] if init else None,
                         init_sha256=init["sha256"] if init else None)
        outcome = self.scheduler.run_one("train", it, spec,
                                         f"training the generator of iteration {it}")
        info = {k: getattr(outcome, k) for k in ("iterations", "final_train_loss",
                                                 "final_validation_loss", "wall_s",
                                                 "n_parameters")}
        self.ledger.add_checkpoint(it, "generator", outcome.checkpoint, outcome.sha256, info)
        self.ledger.set_iteration(it, training=outcome.data_summary,
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
        row = self.ledger.iteration(it)
        if row["accepted"] is not None:
            return
        seed = self.seeds.seed("sample", it)
        self.ledger.set_iteration(it, status="sampling", sample_seed=seed)
        folder = self.folder / f"iter{it:02d}" / "sample"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "known.txt").write_text("\n".join(self._known_units(it)) + "\n")
        sampling = dataclasses.replace(self.config.sampling, seed=seed)
        spec = SampleSpec(checkpoint=checkpoint["path"], checkpoint_sha256=checkpoint["sha256"],
                          known=str(folder / "known.txt"), sampling=sampling)
        outcome = self.scheduler.run_one("sample", it, spec, f"sampling iteration {it}")
        accepted = [dataclasses.asdict(c) for c in outcome.candidates]
        per = outcome.draws / len(accepted) if accepted else None
        self.ledger.record_sampling(it, accepted, draws=outcome.draws, accepted=len(accepted),
                                    draws_per_candidate=per, rejected=outcome.rejected,
                                    sampling=outcome.sampling, status="evaluating")
        if not outcome.reached:
            self.ledger.event("sampling", f"iteration {it}: only {len(accepted)} of "
                                          f"{sampling.n} candidates in {outcome.draws} draws")

    # ------------------------------------------------------------------ evaluate
    def _reference(self) -> dict:
        """The reference polymer's candidate row (created in iteration 1)."""
        from polyhpc.chem.canonical import canonical_repeat_unit

        smiles = self.config.reference_smiles
        ref_id = self.ledger.add_reference(1, smiles, canonical_repeat_unit(smiles))
        return self.ledger.candidate(ref_id)

    def _evaluate(self, it: int) -> None:
        make_evaluator(self.context).evaluate(
            it, self.ledger.candidates(it, role="candidate"), self._reference())

    def _check_evaluated(self, it: int) -> None:
        """Refuse to go on when the reference has no result or the iteration evaluated nothing."""
        checked = "surrogate" if self.config.evaluator.kind == "surrogate" else "md"
        reference = self._reference()
        ref_agg = self.ledger.aggregate(reference["id"], checked)
        candidates = [c for c in self.ledger.candidates(it, role="candidate")
                      if c["status"] != "not selected"]
        evaluated = [c for c in candidates
                     if (a := self.ledger.aggregate(c["id"], checked)) and a["status"] != "failed"]
        why = None
        if ref_agg is None or ref_agg["status"] == "failed":
            why = (f"the reference {reference['smiles']} has no {checked} result "
                   f"({reference['reason'] or 'every replica failed'})")
        elif candidates and not evaluated:
            why = (f"iteration {it} evaluated none of its {len(candidates)} candidates "
                   "(every run failed or the units cannot be built; see `polyhpc campaign "
                   "report` for each reason)")
        if why is not None:
            self.ledger.event("failed", why)
            self.ledger.set_iteration(it, status="failed")
            raise RunFailedError(f"campaign stopped: {why}")

    # ------------------------------------------------------------------ feed back
    def _feed_back(self, it: int) -> None:
        """Record the reference and this iteration's winners as fed back."""
        row = self.ledger.iteration(it)
        if row["status"] in ("fed back", "done"):
            return
        source = self.result_source
        reference = self._reference()
        ref_agg = self.ledger.aggregate(reference["id"], source) if source else None
        best = []
        if source is None:
            self.ledger.event("feedback", f"iteration {it}: {self.md_reason}; no candidate is "
                                          "compared with the reference or fed back")
        else:
            aggregates = {a["candidate_id"]: a for a in self.ledger.aggregates(source=source)}
            best = fb.winners(self.ledger.candidates(it, role="candidate"), aggregates, ref_agg)
            if ref_agg is None or ref_agg["status"] != "ok":
                self.ledger.event("feedback", f"iteration {it}: the reference "
                                              f"{reference['smiles']} has no complete {source} "
                                              "result; nothing beats it")
        rows = [{"candidate_id": c["id"], "smiles": c["smiles"], "canonical": c["canonical"],
                 "source": source, "objective_mean": c["objective_mean"], "role": "winner"}
                for c in best]
        if self.config.feedback.include_reference:
            rows.insert(0, {"candidate_id": reference["id"], "smiles": reference["smiles"],
                            "canonical": reference["canonical"], "source": source or "none",
                            "objective_mean": ref_agg["objective_mean"] if ref_agg else None,
                            "role": "reference"})
        self.ledger.record_feedback(it, rows)


__all__ = ["Campaign", "CampaignError", "open_ledger", "versions"]
