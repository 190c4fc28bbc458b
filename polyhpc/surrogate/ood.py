"""Out-of-distribution benchmark: how well the surrogate ranks what it has not seen.

The generator proposes short units (at most 10 SMILES tokens) while every
HTP-MD unit has 11 or more, and the campaign looks for polymers above the
training range. Three splits of the HTP-MD data imitate that:

- ``short``: train on units with more than 6 backbone atoms, rank the units
  with 5 (the shortest backbones in HTP-MD);
- ``small``: train on units with 12 or more heavy atoms, rank those with 9
  or fewer (closest to the generator's few-token units);
- ``top``: train on the lower 95 % by the target minus a random 10 %
  hold-out; rank the top 5 % together with that hold-out (can the model
  put polymers it has never seen the like of above ordinary ones?).

Every split reports the model next to a one-descriptor baseline: a straight
line fitted on the training rows through the oxygen fraction of the backbone.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from rdkit import Chem
from scipy.stats import spearmanr

from polyhpc.chem.smiles import end_atoms
from polyhpc.surrogate.evaluate import calibration, group_codes, prepared, score
from polyhpc.surrogate.model import SurrogateConfig, fit_regressor

SPLITS = {
    "short": "train: backbone > 6 atoms; rank: backbone <= 5 atoms",
    "small": "train: >= 12 heavy atoms; rank: <= 9 heavy atoms",
    "top": "train: lower 95 % minus a 10 % hold-out; rank: top 5 % + hold-out",
}


def unit_facts(keys: list[str]) -> pd.DataFrame:
    """Backbone atoms, heavy atoms and backbone oxygen fraction of canonical units."""
    rows = []
    for key in keys:
        mol = Chem.MolFromSmiles(key)
        end1, _, end2, _ = end_atoms(mol)
        path = list(Chem.GetShortestPath(mol, end1, end2))[1:-1]
        oxygens = sum(mol.GetAtomWithIdx(i).GetSymbol() == "O" for i in path)
        rows.append((len(path), mol.GetNumHeavyAtoms(), oxygens / len(path)))
    return pd.DataFrame(rows, columns=["backbone_atoms", "heavy_atoms", "backbone_O_frac"])


def _is_top(y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Rows in the top 5 % by their polymer's mean value (replicas stay together)."""
    group_mean = pd.Series(y).groupby(groups).transform("mean").to_numpy()
    return group_mean >= np.quantile(group_mean, 0.95)


def split_rows(name: str, facts: pd.DataFrame, y: np.ndarray, groups: np.ndarray,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row indices of one of :data:`SPLITS`."""
    if name == "short":
        return (np.flatnonzero(facts["backbone_atoms"] > 6),
                np.flatnonzero(facts["backbone_atoms"] <= 5))
    if name == "small":
        return (np.flatnonzero(facts["heavy_atoms"] >= 12),
                np.flatnonzero(facts["heavy_atoms"] <= 9))
    if name != "top":
        raise ValueError(f"unknown split {name!r}; known: {', '.join(SPLITS)}")
    top = _is_top(y, groups)
    lower_groups = np.unique(groups[~top])
    rng = np.random.default_rng(seed)
    held = np.isin(groups, rng.choice(lower_groups, len(lower_groups) // 10, replace=False))
    return np.flatnonzero(~top & ~held), np.flatnonzero(top | held)


def precision_at(y_true: np.ndarray, y_pred: np.ndarray, fraction: float = 0.1) -> float:
    """Share of the true top ``fraction`` among the predicted top ``fraction``.

    Ties in ``y_pred`` are broken at random in expectation (a one-descriptor
    baseline has many ties), so the number does not depend on row order.
    """
    k = max(1, int(round(fraction * len(y_true))))
    is_top = np.zeros(len(y_true))
    is_top[np.argsort(-y_true, kind="stable")[:k]] = 1.0
    order = np.sort(y_pred)
    above = len(y_pred) - np.searchsorted(order, y_pred, side="right")
    tied = np.searchsorted(order, y_pred, side="right") - np.searchsorted(order, y_pred)
    weight = np.clip((k - above) / tied, 0.0, 1.0)
    return float(weight @ is_top / k)


def ranking_metrics(y_true: np.ndarray, y_pred: np.ndarray,
                    std: np.ndarray | None = None) -> dict:
    """Spearman, R², MAE, precision of the top 10 % and (with ``std``) calibration."""
    out = {**score(y_true, y_pred).to_dict(), "precision_top10": precision_at(y_true, y_pred)}
    if std is not None:
        out["within_1_sigma"] = calibration(y_true, y_pred, std)["within_1_sigma"]
    return out


def _top_metrics(y_test, predicted, is_top, y_train) -> dict:
    from sklearn.metrics import roc_auc_score

    rho = spearmanr(y_test[is_top], predicted[is_top]).statistic
    return {"auc_top_vs_holdout": float(roc_auc_score(is_top, predicted)),
            "spearman_within_top": float(rho),
            "top_predicted_above_train_max": float(np.mean(predicted[is_top] > y_train.max()))}


def ood_benchmark(frame: pd.DataFrame, config: SurrogateConfig,
                  target: str = "log10_conductivity", splits=tuple(SPLITS)) -> dict:
    """Fit on each split's training rows and score the ranking of its test rows.

    Returns
    -------
    dict
        Per split: ``definition``, ``n_train``, ``n_test``, ``train_s`` and
        the ``model`` and ``baseline`` metrics (:func:`ranking_metrics`; the
        ``top`` split adds AUC of top vs hold-out, Spearman within the top and
        the share of the top predicted above the training maximum).
    """
    features, keys, y = prepared(frame, target, config)
    facts = unit_facts(keys)
    groups = group_codes(keys)
    oxygen = facts["backbone_O_frac"].to_numpy()
    report = {"target": target, "kind": config.kind, "splits": {}}
    for name in splits:
        train, test = split_rows(name, facts, y, groups, config.seed)
        start = time.perf_counter()
        regressor = fit_regressor(features[train], y[train], config)
        predicted, std = regressor.predict(features[test])
        elapsed = time.perf_counter() - start
        slope, intercept = np.polyfit(oxygen[train], y[train], 1)
        baseline = slope * oxygen[test] + intercept
        entry = {"definition": SPLITS[name], "n_train": int(len(train)),
                 "n_test": int(len(test)), "train_predict_s": round(elapsed, 2),
                 "model": ranking_metrics(y[test], predicted, std),
                 "baseline": ranking_metrics(y[test], baseline)}
        if name == "top":
            is_top = _is_top(y, groups)[test]
            entry["model"].update(_top_metrics(y[test], predicted, is_top, y[train]))
            entry["baseline"].update(_top_metrics(y[test], baseline, is_top, y[train]))
        report["splits"][name] = entry
    return report
