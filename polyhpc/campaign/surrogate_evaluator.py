"""The surrogate as evaluator, and as the pre-screen that picks candidates for MD.

- :class:`SurrogateEvaluator` (``evaluator.kind: surrogate``): the surrogate's
  prediction is the result, labelled ``surrogate`` in the ledger, the report
  and the feedback;
- :class:`SurrogateMdEvaluator` (``surrogate+md``): the surrogate scores every
  candidate, its acquisition (UCB or top-k, with a diversity filter) picks
  ``md_top_k`` of them, and those (and the reference) are evaluated by MD.

The surrogate of an iteration is trained on HTP-MD plus this campaign's MD
means (from the ledger) and recorded with its sha256; predictions load it
only when the file still has that hash.
"""

from __future__ import annotations

import dataclasses
import math

from polyhpc.campaign import specs
from polyhpc.campaign.evaluate import Evaluator, aggregate, objective_value
from polyhpc.campaign.md_evaluator import MdEvaluator
from polyhpc.config import to_dict

#: Columns of the HTP-MD property table a campaign's MD means are written under, S/cm first.
TRAINING_COLUMNS = {"conductivity": "conductivity_S_per_cm",
                    "li_diffusivity": "li_diffusivity_cm2_per_s",
                    "tfsi_diffusivity": "tfsi_diffusivity_cm2_per_s",
                    "poly_diffusivity": "poly_diffusivity_cm2_per_s",
                    "transference_number": "transference_number",
                    "molality": "molality_mol_per_kg"}


def surrogate_properties(row: dict) -> dict:
    """A surrogate prediction row as a result's properties (S/cm), marked as surrogate."""
    from polyhpc.analysis.results import UNITS

    props = {"conductivity": float(10 ** row["surrogate_log10_conductivity"]),
             "surrogate_log10_conductivity": row["surrogate_log10_conductivity"],
             "surrogate_log10_conductivity_std": row["surrogate_log10_conductivity_std"],
             "source": "surrogate", "units": {"conductivity": UNITS["conductivity"]}}
    if row.get("surrogate_transference_number") is not None:
        props["transference_number"] = row["surrogate_transference_number"]
    return props


def pick_for_md(rows: list[dict], k: int, method: str, beta: float,
                max_similarity: float) -> list[str]:
    """Canonical identities the surrogate's acquisition sends to MD, in pick order."""
    import pandas as pd

    from polyhpc.surrogate.acquisition import select

    picked = select(pd.DataFrame(rows), k, method, beta, max_similarity)
    return picked["canonical"].tolist()


class SurrogateEvaluator(Evaluator):
    """Surrogate predictions for candidates; as the evaluator, they are the results."""

    def evaluate(self, it: int, candidates: list[dict], reference: dict) -> None:
        """Predict the candidates and the reference; record the predictions as results."""
        self.predict(it, candidates + [reference])

    def predict(self, it: int, candidates: list[dict]) -> None:
        """Predict ``candidates`` that have no prediction yet, with this iteration's model."""
        todo = [c for c in candidates if c["surrogate_mean"] is None]
        if not todo:
            return
        model = self._model(it)
        task = self.ledger.ensure_task("surrogate_predict", it)
        outcome = self.scheduler.run_one(
            "surrogate_predict", it, specs.PredictSpec(
                model=model["path"], model_sha256=model["sha256"],
                smiles=tuple(c["smiles"] for c in todo)),
            f"surrogate prediction of iteration {it}", task=task)
        rows = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                 for k, v in row.items()} for row in outcome.rows]
        for c, row in zip(todo, rows, strict=True):
            mean = row.get("surrogate_log10_conductivity")
            self.ledger.update_candidate(
                c["id"], surrogate_mean=mean,
                surrogate_std=row.get("surrogate_log10_conductivity_std"),
                **({} if mean is not None else
                   {"reason": f"surrogate: no prediction ({row.get('reason', 'invalid')})"}))
            self._record(c, row, task)

    def _record(self, candidate: dict, row: dict, task: dict) -> None:
        if row.get("surrogate_log10_conductivity") is None:
            results = []
        else:
            props = surrogate_properties(row)
            self.ledger.record_result(task["id"], candidate["id"], None, "surrogate", props,
                                      objective_value(props, self.config.objective),
                                      {"model": "surrogate"})
            results = self.ledger.results(candidate["id"], "surrogate")
        self.ledger.set_aggregate(candidate["id"], "surrogate",
                                  aggregate(results, 1, self.config.objective))

    def _model(self, it: int) -> dict:
        """The surrogate of iteration ``it``: trained on HTP-MD plus this campaign's MD means."""
        recorded = self.ledger.checkpoint(it, "surrogate")
        if recorded is not None:
            return recorded
        s = self.config.surrogate
        if it > 1 and not s.retrain_each_iteration:
            previous = self.ledger.checkpoint(it - 1, "surrogate")
            self.ledger.add_checkpoint(it, "surrogate", previous["path"], previous["sha256"],
                                       {"reused_from_iteration": it - 1})
            return self.ledger.checkpoint(it, "surrogate")
        folder = self.context.folder / f"iter{it:02d}" / "surrogate"
        folder.mkdir(parents=True, exist_ok=True)
        rows, left_out = self._campaign_md_rows()
        _write_rows(rows, folder / "campaign-md.csv")
        if left_out["zero"] or left_out["implausible"]:
            self.ledger.event("surrogate", f"iteration {it}: {left_out['zero']} MD mean(s) of "
                              f"zero conductivity and {left_out['implausible']} above "
                              f"{s.model.max_conductivity_S_per_cm:g} S/cm left out of the "
                              "surrogate's training set")
        model = dataclasses.replace(s.model, seed=self.context.seeds.seed("surrogate", it))
        outcome = self.scheduler.run_one(
            "surrogate_train", it, specs.SurrogateTrainSpec(
                config=model, out=str(folder / "model.npz"),
                extra_csv=str(folder / "campaign-md.csv")),
            f"training the surrogate of iteration {it}")
        self.ledger.add_checkpoint(it, "surrogate", outcome.model, outcome.sha256,
                                   {"n_training": outcome.n_training,
                                    "campaign_md_rows": len(rows),
                                    "campaign_md_rows_left_out": left_out,
                                    "config": to_dict(model)})
        return self.ledger.checkpoint(it, "surrogate")

    def _campaign_md_rows(self) -> tuple[list[dict], dict]:
        """The campaign's evaluated MD means as HTP-MD property rows, and what was left out.

        A log10 model cannot learn 0 (no ion moved), and values above what any polymer
        electrolyte reaches (a smoke-length run) would teach it nonsense: left out, counted.
        """
        bound = self.config.surrogate.model.max_conductivity_S_per_cm
        rows, left_out = [], {"zero": 0, "implausible": 0}
        for agg in self.ledger.aggregates(source="md"):
            conductivity = agg["mean"].get("conductivity") if agg["status"] == "ok" else None
            if conductivity is None:
                continue
            if not 0 < conductivity <= bound:
                left_out["zero" if conductivity <= 0 else "implausible"] += 1
                continue
            row = {"smiles": self.ledger.candidate(agg["candidate_id"])["smiles"]}
            row.update({column: agg["mean"].get(key) for key, column in TRAINING_COLUMNS.items()})
            rows.append(row)
        return rows, left_out


def _write_rows(rows: list[dict], path) -> None:
    import pandas as pd

    pd.DataFrame(rows, columns=["smiles", *TRAINING_COLUMNS.values()]).to_csv(path, index=False)


class SurrogateMdEvaluator(SurrogateEvaluator):
    """The surrogate's acquisition picks ``md_top_k`` candidates; MD evaluates them.

    The predictions are recorded too (source ``surrogate``): they are the campaign's
    results where its MD profile is too short to resolve transport
    (:mod:`polyhpc.campaign.fidelity`).
    """

    def evaluate(self, it: int, candidates: list[dict], reference: dict) -> None:
        """Predict every candidate and the reference, pick for MD, run MD on the picks."""
        self.predict(it, candidates + [reference])
        MdEvaluator(self.context).evaluate(it, self.pick(it), self.ledger.candidate(
            reference["id"]))

    def pick(self, it: int) -> list[dict]:
        """The candidates picked for MD (picked once per iteration; the ledger keeps it)."""
        candidates = self.ledger.candidates(it, role="candidate")
        if any(c["selected"] for c in candidates):
            return [c for c in candidates if c["selected"]]
        e = self.config.evaluator
        rows = [{"smiles": c["smiles"], "canonical": c["canonical"],
                 "surrogate_log10_conductivity": c["surrogate_mean"],
                 "surrogate_log10_conductivity_std": c["surrogate_std"]}
                for c in candidates if c["surrogate_mean"] is not None]
        picks = pick_for_md(rows, e.md_top_k, e.acquisition, e.beta, e.max_similarity) \
            if rows else []
        by_key = {c["canonical"]: c["id"] for c in candidates}
        chosen = [by_key[key] for key in picks]
        self.ledger.select_for_md(chosen, [c["id"] for c in candidates if c["id"] not in chosen],
                                  f"surrogate acquisition picked {len(picks)} others for MD")
        return [c for c in self.ledger.candidates(it, role="candidate") if c["selected"]]
