"""Gradient-boosted-tree ensembles (the first surrogate, kept selectable as ``kind="gbt"``).

Each target is learned by an ensemble of histogram gradient-boosted trees
(scikit-learn's ``HistGradientBoostingRegressor``, after LightGBM: Ke et al.,
NeurIPS 2017), each member fitted on a bootstrap resample with its own seed;
the spread of the members is the per-prediction uncertainty. Trees predict a
piecewise-constant function of the features, so no prediction leaves the
range of the training targets, and the member spread measures the bootstrap
variability only (it is several times smaller than the error on held-out
polymers: see ``polyhpc surrogate evaluate``). The fitted trees are kept as
plain node arrays and evaluated by :func:`predict_forest`, so a saved model
holds data only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

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


#: Node fields of a fitted forest, each a flat array over every node of every tree.
NODE_FIELDS = {"value": np.float64, "feature": np.int64, "threshold": np.float64,
               "missing_left": np.bool_, "left": np.int64, "right": np.int64,
               "is_leaf": np.bool_}
#: Per tree (in boosting order, member after member) and per member.
TREE_FIELDS = {"tree_root": np.int64, "tree_member": np.int64}
MEMBER_FIELDS = {"baseline": np.float64}


class TreeEnsemble:
    """Bootstrap ensemble of histogram gradient-boosted regressors for one target.

    After fitting, the trees are kept as plain arrays (:data:`NODE_FIELDS`,
    :data:`TREE_FIELDS`, :data:`MEMBER_FIELDS`) and evaluated here, so that a
    saved model is data only and needs no scikit-learn object to predict.
    """

    def __init__(self, settings: GBTSettings):
        self.settings = settings
        self.forest: dict[str, np.ndarray] = {}

    def fit(self, features: np.ndarray, y: np.ndarray) -> TreeEnsemble:
        """Fit every member on its bootstrap resample of ``(features, y)``."""
        from sklearn.ensemble import HistGradientBoostingRegressor

        s = self.settings
        rng = np.random.default_rng(s.seed)
        members = []
        for member in range(s.members):
            rows = rng.integers(0, len(y), len(y)) if s.members > 1 else np.arange(len(y))
            model = HistGradientBoostingRegressor(
                max_iter=s.max_iter, learning_rate=s.learning_rate,
                max_leaf_nodes=s.max_leaf_nodes, l2_regularization=s.l2_regularization,
                random_state=s.seed + member)
            model.fit(features[rows], y[rows])
            members.append(model)
        self.forest = forest_arrays(members)
        return self

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation over the members.

        Parameters
        ----------
        features : (n, d) float
            Converted to float64, as scikit-learn does before it compares
            with the split thresholds.
        """
        predictions = predict_forest(self.forest, np.asarray(features, dtype=np.float64))
        return predictions.mean(axis=0), predictions.std(axis=0)

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """Plain settings (JSON-ready) and the forest's arrays."""
        return {"settings": asdict(self.settings)}, dict(self.forest)

    @classmethod
    def from_arrays(cls, settings: dict, arrays: dict[str, np.ndarray],
                    n_features: int) -> TreeEnsemble:
        """The ensemble of :meth:`to_arrays`; ``ValueError`` for a malformed forest."""
        ensemble = cls(GBTSettings(**settings["settings"]))
        check_forest(arrays, n_features)
        ensemble.forest = {name: arrays[name] for name in
                           (*NODE_FIELDS, *TREE_FIELDS, *MEMBER_FIELDS)}
        return ensemble


def forest_arrays(members: list) -> dict[str, np.ndarray]:
    """Plain arrays of fitted ``HistGradientBoostingRegressor`` members.

    Child indices become indices into the flat node arrays. Raises
    ``ValueError`` for what this evaluator does not implement (categorical
    splits, a link other than the identity, several trees per iteration).
    """
    nodes, roots, owners, baselines = [], [], [], []
    offset = 0
    for index, model in enumerate(members):
        if model.n_trees_per_iteration_ != 1 or model.loss != "squared_error":
            raise ValueError("only squared-error regressors with one tree per iteration")
        baselines.append(float(np.ravel(model._baseline_prediction)[0]))
        for (predictor,) in model._predictors:
            tree = predictor.nodes
            if tree["is_categorical"].any():
                raise ValueError("categorical splits are not supported")
            nodes.append({"value": tree["value"], "feature": tree["feature_idx"],
                          "threshold": tree["num_threshold"],
                          "missing_left": tree["missing_go_to_left"],
                          "left": tree["left"].astype(np.int64) + offset,
                          "right": tree["right"].astype(np.int64) + offset,
                          "is_leaf": tree["is_leaf"]})
            roots.append(offset)
            owners.append(index)
            offset += len(tree)
    forest = {name: np.concatenate([n[name] for n in nodes]).astype(dtype)
              for name, dtype in NODE_FIELDS.items()}
    forest["tree_root"] = np.array(roots, dtype=np.int64)
    forest["tree_member"] = np.array(owners, dtype=np.int64)
    forest["baseline"] = np.array(baselines, dtype=np.float64)
    return forest


def check_forest(forest: dict[str, np.ndarray], n_features: int) -> None:
    """Raise ``ValueError`` unless ``forest`` is a well-formed forest on ``n_features``."""
    fields = {**NODE_FIELDS, **TREE_FIELDS, **MEMBER_FIELDS}
    for name, dtype in fields.items():
        if name not in forest:
            raise ValueError(f"the forest lacks {name}")
        if forest[name].dtype != dtype or forest[name].ndim != 1:
            raise ValueError(f"{name} is {forest[name].dtype} {forest[name].shape}, "
                             f"expected a vector of {np.dtype(dtype)}")
    n_nodes = len(forest["value"])
    if any(len(forest[name]) != n_nodes for name in NODE_FIELDS):
        raise ValueError("the node arrays differ in length")
    if len(forest["tree_member"]) != len(forest["tree_root"]):
        raise ValueError("tree_root and tree_member differ in length")
    n_members = len(forest["baseline"])
    if n_members == 0 or set(np.unique(forest["tree_member"])) - set(range(n_members)):
        raise ValueError("tree_member names members the forest does not have")
    inner = ~forest["is_leaf"]
    for name in ("left", "right"):
        children = forest[name][inner]
        # children come after their parent, so evaluation always reaches a leaf
        if ((children <= np.flatnonzero(inner)) | (children >= n_nodes)).any():
            raise ValueError(f"{name} child indices leave the tree")
    if ((forest["tree_root"] < 0) | (forest["tree_root"] >= n_nodes)).any():
        raise ValueError("tree_root indices leave the node arrays")
    features = forest["feature"][inner]
    if ((features < 0) | (features >= n_features)).any():
        raise ValueError(f"split features outside 0 .. {n_features - 1}")
    if not (np.isfinite(forest["value"]).all() and np.isfinite(forest["baseline"]).all()):
        raise ValueError("leaf values or baselines are not finite")


def predict_forest(forest: dict[str, np.ndarray], features: np.ndarray) -> np.ndarray:
    """Each member's prediction, (n_members, n) float64, for ``features`` (n, d) float64.

    The same arithmetic as scikit-learn's ``predict`` (a NaN feature follows
    the node's missing-value branch, else ``x <= threshold`` goes left; the
    member's baseline plus its trees' leaf values, added in boosting order),
    so the numbers agree bit for bit.
    """
    n = features.shape[0]
    node = np.broadcast_to(forest["tree_root"], (n, len(forest["tree_root"]))).copy()  # (n, T)
    rows = np.broadcast_to(np.arange(n)[:, None], node.shape)
    active = ~forest["is_leaf"][node]
    while active.any():
        at = node[active]
        x = features[rows[active], forest["feature"][at]]
        left = np.where(np.isnan(x), forest["missing_left"][at], x <= forest["threshold"][at])
        node[active] = np.where(left, forest["left"][at], forest["right"][at])
        active = ~forest["is_leaf"][node]
    leaves = forest["value"][node]  # (n, T)
    out = np.empty((len(forest["baseline"]), n))
    for member, baseline in enumerate(forest["baseline"]):
        trees = np.flatnonzero(forest["tree_member"] == member)
        # sequential sums, as scikit-learn's in-place += per tree (not numpy's pairwise sum)
        columns = np.column_stack([np.full(n, baseline), leaves[:, trees]])
        out[member] = np.cumsum(columns, axis=1)[:, -1]
    return out
