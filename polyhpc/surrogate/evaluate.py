"""Honest evaluation of surrogate models.

- Grouped k-fold cross-validation: folds split by canonical polymer identity,
  so two spellings of one polymer never sit on both sides of a split.
- A trivial baseline (the training mean) on the same folds, so the gain is visible.
- An extrapolation split: train on the lower 95 % by conductivity, test on
  the top 5 %, as the generator's proposals lie beyond the training data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from polyhpc.surrogate.features import featurize
from polyhpc.surrogate.model import SurrogateConfig, fit_ensemble, predict_ensemble, target_values


@dataclass(frozen=True)
class Scores:
    """Regression quality on held-out rows."""

    r2: float
    mae: float
    spearman: float
    n: int

    def to_dict(self) -> dict:
        """Plain-data form."""
        return asdict(self)


def score(y_true: np.ndarray, y_pred: np.ndarray) -> Scores:
    """R², mean absolute error and Spearman rank correlation."""
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    rho = spearmanr(y_true, y_pred).statistic if np.ptp(y_pred) > 0 else 0.0
    return Scores(float(1 - residual / total), float(np.mean(np.abs(y_true - y_pred))),
                  float(rho), int(len(y_true)))


def _groups(keys: list[str | None]) -> np.ndarray:
    codes = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    return np.array([codes[k] for k in keys])


def cross_validate(frame: pd.DataFrame, target: str, config: SurrogateConfig,
                   folds: int = 5) -> dict:
    """Grouped k-fold CV of the model and of the mean baseline.

    Returns
    -------
    dict
        ``model`` and ``baseline`` :class:`Scores` over all out-of-fold
        predictions, plus per-fold model scores.
    """
    from sklearn.model_selection import GroupKFold

    features, keys = featurize(frame["smiles"].tolist(), config.features)
    y = target_values(frame, target)
    rows = np.array([k is not None for k in keys]) & np.isfinite(y)
    features, y = features[rows], y[rows]
    groups = _groups([k for k, r in zip(keys, rows, strict=True) if r])
    predicted = np.empty_like(y)
    baseline = np.empty_like(y)
    per_fold = []
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    for train, test in splitter.split(features, y, groups):
        members = fit_ensemble(features[train], y[train], config)
        predicted[test], _ = predict_ensemble(members, features[test])
        baseline[test] = y[train].mean()
        per_fold.append(score(y[test], predicted[test]).to_dict())
    return {"target": target, "folds": folds, "model": score(y, predicted).to_dict(),
            "baseline": score(y, baseline).to_dict(), "per_fold": per_fold}


def extrapolation(frame: pd.DataFrame, config: SurrogateConfig,
                  top_fraction: float = 0.05) -> dict:
    """Train on the lower ``1 - top_fraction`` by conductivity; test on the top.

    Reports R²/MAE/Spearman on the top set (log10 conductivity), the share of
    the top set predicted above the training maximum and above the training
    95th percentile, and how the top set ranks among all predictions made for
    training and test rows together (mean percentile of the top polymers).
    """
    features, keys = featurize(frame["smiles"].tolist(), config.features)
    y = target_values(frame, "log10_conductivity")
    rows = np.array([k is not None for k in keys]) & np.isfinite(y)
    features, y = features[rows], y[rows]
    cut = np.quantile(y, 1 - top_fraction)
    train, test = y < cut, y >= cut
    members = fit_ensemble(features[train], y[train], config)
    predicted_test, std_test = predict_ensemble(members, features[test])
    predicted_train, _ = predict_ensemble(members, features[train])
    everything = np.concatenate([predicted_train, predicted_test])
    percentile = np.array([np.mean(everything < p) for p in predicted_test])
    return {
        "top_fraction": top_fraction, "threshold_log10_S_per_cm": float(cut),
        "n_train": int(train.sum()), "n_test": int(test.sum()),
        "test": score(y[test], predicted_test).to_dict(),
        "baseline_mae": float(np.mean(np.abs(y[test] - y[train].mean()))),
        "share_above_training_max": float(np.mean(predicted_test > y[train].max())),
        "share_above_training_p95": float(np.mean(predicted_test > np.quantile(y[train], 0.95))),
        "mean_rank_percentile_of_top": float(percentile.mean()),
        "mean_uncertainty_top": float(std_test.mean()),
    }
