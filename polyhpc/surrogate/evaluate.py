"""Honest evaluation of surrogate models in distribution.

- Grouped k-fold cross-validation: folds split by canonical polymer identity,
  so two spellings of one polymer never sit on both sides of a split.
- A trivial baseline (the training mean) on the same folds, so the gain is visible.
- Calibration of the uncertainty: the share of held-out MD values inside the
  predicted mean +- k sigma, against the Gaussian share (68.3 % for k = 1).

Out-of-distribution splits live in :mod:`polyhpc.surrogate.ood`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.special import erf
from scipy.stats import spearmanr

from polyhpc.surrogate.features import featurize
from polyhpc.surrogate.model import SurrogateConfig, fit_regressor, target_values

#: Interval half-widths (in sigma) of the calibration curve.
SIGMA_MULTIPLES = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


@dataclass(frozen=True)
class Scores:
    """Regression quality on held-out rows (units of the target)."""

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


def calibration(y_true: np.ndarray, mean: np.ndarray, std: np.ndarray) -> dict:
    """Observed vs Gaussian share of values inside mean +- k std.

    Returns
    -------
    dict
        ``within_1_sigma`` (the headline number; 0.683 for a calibrated
        Gaussian), ``curve`` (k, expected, observed for each of
        :data:`SIGMA_MULTIPLES`) and ``mean_std`` (average predicted std).
    """
    z = np.abs(y_true - mean) / np.where(std > 0, std, np.finfo(float).tiny)
    curve = [{"k": k, "expected": float(erf(k / np.sqrt(2))), "observed": float(np.mean(z <= k))}
             for k in SIGMA_MULTIPLES]
    return {"within_1_sigma": float(np.mean(z <= 1.0)), "curve": curve,
            "mean_std": float(np.mean(std))}


def group_codes(keys: list[str | None]) -> np.ndarray:
    """Integer group per canonical identity (equal keys share a code)."""
    codes = {k: i for i, k in enumerate(dict.fromkeys(keys))}
    return np.array([codes[k] for k in keys])


def prepared(frame: pd.DataFrame, target: str, config: SurrogateConfig):
    """Features, identities and target values of the usable rows of ``frame``.

    Returns
    -------
    features : (n, width) float32
    keys : list of str
    y : (n,) float64
    """
    features, keys = featurize(frame["smiles"].tolist(), config.feature_settings)
    y = target_values(frame, target)
    rows = np.array([k is not None for k in keys]) & np.isfinite(y) & \
        np.isfinite(features).all(axis=1)
    return features[rows], [k for k, r in zip(keys, rows, strict=True) if r], y[rows]


def cross_validate(frame: pd.DataFrame, target: str, config: SurrogateConfig,
                   folds: int = 5, keep_predictions: bool = False) -> dict:
    """Grouped k-fold CV of the model and of the mean baseline, with calibration.

    Returns
    -------
    dict
        ``model`` and ``baseline`` :class:`Scores` over all out-of-fold
        predictions, ``calibration`` (see :func:`calibration`), per-fold
        model scores, and with ``keep_predictions`` the out-of-fold
        ``predictions`` (``y``, ``mean``, ``std`` lists).
    """
    from sklearn.model_selection import GroupKFold

    features, keys, y = prepared(frame, target, config)
    predicted, sigma, baseline = np.empty_like(y), np.empty_like(y), np.empty_like(y)
    per_fold = []
    splitter = GroupKFold(n_splits=folds, shuffle=True, random_state=config.seed)
    for train, test in splitter.split(features, y, group_codes(keys)):
        regressor = fit_regressor(features[train], y[train], config)
        predicted[test], sigma[test] = regressor.predict(features[test])
        baseline[test] = y[train].mean()
        per_fold.append(score(y[test], predicted[test]).to_dict())
    out = {"target": target, "kind": config.kind, "folds": folds,
           "model": score(y, predicted).to_dict(), "baseline": score(y, baseline).to_dict(),
           "calibration": calibration(y, predicted, sigma), "per_fold": per_fold}
    if keep_predictions:
        out["predictions"] = {"y": y.tolist(), "mean": predicted.tolist(),
                              "std": sigma.tolist()}
    return out
