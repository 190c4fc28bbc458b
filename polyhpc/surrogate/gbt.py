"""Gradient-boosted-tree ensembles (the first surrogate, kept selectable as ``kind="gbt"``).

Each target is learned by an ensemble of histogram gradient-boosted trees
(scikit-learn's ``HistGradientBoostingRegressor``, after LightGBM: Ke et al.,
NeurIPS 2017), each member fitted on a bootstrap resample with its own seed;
the spread of the members is the per-prediction uncertainty. Trees predict a
piecewise-constant function of the features, so no prediction leaves the
range of the training targets, and the member spread measures the bootstrap
variability only (it is several times smaller than the error on held-out
polymers: see ``polyhpc surrogate evaluate``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GBTSettings:
    """Tree settings; numbers are validated by :class:`~polyhpc.surrogate.model.SurrogateConfig`."""

    members: int
    max_iter: int
    learning_rate: float
    max_leaf_nodes: int
    l2_regularization: float
    seed: int


class TreeEnsemble:
    """Bootstrap ensemble of histogram gradient-boosted regressors for one target."""

    def __init__(self, settings: GBTSettings):
        self.settings = settings
        self.members: list = []

    def fit(self, features: np.ndarray, y: np.ndarray) -> TreeEnsemble:
        """Fit every member on its bootstrap resample of ``(features, y)``."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        s = self.settings
        rng = np.random.default_rng(s.seed)
        self.members = []
        for member in range(s.members):
            rows = rng.integers(0, len(y), len(y)) if s.members > 1 else np.arange(len(y))
            model = HistGradientBoostingRegressor(
                max_iter=s.max_iter, learning_rate=s.learning_rate,
                max_leaf_nodes=s.max_leaf_nodes, l2_regularization=s.l2_regularization,
                random_state=s.seed + member)
            model.fit(features[rows], y[rows])
            self.members.append(model)
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the members."""
        predictions = np.stack([m.predict(features) for m in self.members])
        return predictions.mean(axis=0), predictions.std(axis=0)
