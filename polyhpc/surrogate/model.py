"""Gradient-boosted-tree ensembles on polymer features.

Each target is learned by an ensemble of histogram gradient-boosted trees
(scikit-learn's ``HistGradientBoostingRegressor``, after LightGBM: Ke et al.,
NeurIPS 2017), each member fitted on a bootstrap resample with its own seed;
the spread of the members is the per-prediction uncertainty. Predictions
always carry a ``surrogate_`` prefix so they are never mistaken for MD results.
"""

from __future__ import annotations

import hashlib
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from polyhpc.errors import ModelError
from polyhpc.surrogate.features import FeatureSettings, featurize

#: Target name -> (source column, transform). Transport values span decades: log10.
TARGETS = {
    "log10_conductivity": ("conductivity_S_per_cm", "log10"),
    "log10_li_diffusivity": ("li_diffusivity_cm2_per_s", "log10"),
    "log10_tfsi_diffusivity": ("tfsi_diffusivity_cm2_per_s", "log10"),
    "log10_poly_diffusivity": ("poly_diffusivity_cm2_per_s", "log10"),
    "transference_number": ("transference_number", "identity"),
}
FORMAT = "polyhpc-surrogate-1"


@dataclass(frozen=True)
class SurrogateConfig:
    """Model settings."""

    targets: tuple[str, ...] = ("log10_conductivity",)
    members: int = field(default=5, metadata={"min": 1})
    max_iter: int = field(default=300, metadata={"min": 10})
    learning_rate: float = field(default=0.08, metadata={"min": 1e-4, "max": 1.0})
    max_leaf_nodes: int = field(default=31, metadata={"min": 2})
    l2_regularization: float = field(default=1.0, metadata={"min": 0.0})
    features: FeatureSettings = FeatureSettings()
    seed: int = 0


def target_values(frame: pd.DataFrame, target: str) -> np.ndarray:
    """Values of ``target`` (transformed) from a property frame."""
    if target not in TARGETS:
        raise ModelError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    column, transform = TARGETS[target]
    if column not in frame.columns:
        raise ModelError(f"training data lacks column {column!r} for target {target}")
    values = frame[column].to_numpy(dtype=np.float64)
    return np.log10(values) if transform == "log10" else values


def _regressor(config: SurrogateConfig, seed: int):
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        max_iter=config.max_iter, learning_rate=config.learning_rate,
        max_leaf_nodes=config.max_leaf_nodes, l2_regularization=config.l2_regularization,
        random_state=seed)


def fit_ensemble(features: np.ndarray, y: np.ndarray, config: SurrogateConfig) -> list:
    """Bootstrap ensemble of regressors for one target."""
    rng = np.random.default_rng(config.seed)
    members = []
    for member in range(config.members):
        rows = rng.integers(0, len(y), len(y)) if config.members > 1 else np.arange(len(y))
        model = _regressor(config, config.seed + member)
        model.fit(features[rows], y[rows])
        members.append(model)
    return members


def predict_ensemble(members: list, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation over ensemble members."""
    predictions = np.stack([m.predict(features) for m in members])
    return predictions.mean(axis=0), predictions.std(axis=0)


@dataclass
class SurrogateModel:
    """A trained surrogate: ensembles per target plus provenance."""

    config: SurrogateConfig
    ensembles: dict[str, list]
    dataset_sha256: str
    n_training: int
    training_keys: frozenset = frozenset()

    def predict(self, smiles: list[str]) -> pd.DataFrame:
        """Surrogate predictions; invalid units get NaN and their row says so.

        Columns: ``smiles``, ``canonical``, and per target
        ``surrogate_<target>`` and ``surrogate_<target>_std``; for log10
        conductivity also ``surrogate_conductivity_S_per_cm``.
        """
        features, keys = featurize(list(smiles), self.config.features, cache=False)
        valid = np.array([k is not None for k in keys])
        out = pd.DataFrame({"smiles": list(smiles), "canonical": keys})
        for target, members in self.ensembles.items():
            mean = np.full(len(keys), np.nan)
            std = np.full(len(keys), np.nan)
            if valid.any():
                mean[valid], std[valid] = predict_ensemble(members, features[valid])
            out[f"surrogate_{target}"] = mean
            out[f"surrogate_{target}_std"] = std
        if "log10_conductivity" in self.ensembles:
            out["surrogate_conductivity_S_per_cm"] = 10 ** out["surrogate_log10_conductivity"]
        out["in_training_set"] = [k in self.training_keys for k in keys]
        return out

    def save(self, path: Path) -> None:
        """Pickle the model with its settings and dataset hash."""
        import sklearn

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "sklearn": sklearn.__version__, "model": self}
        partial = path.with_suffix(path.suffix + ".part")
        with open(partial, "wb") as handle:
            pickle.dump(payload, handle)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> SurrogateModel:
        """Load a saved model; foreign or corrupt files give a one-line error."""
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"surrogate model {path} not found")
        try:
            with open(path, "rb") as handle:
                payload = pickle.load(handle)  # noqa: S301 - the user's own model file
        except Exception as exc:  # noqa: BLE001 - unpickling raises many types
            raise ModelError(f"{path} is corrupt or not a surrogate model "
                             f"({exc.__class__.__name__})") from None
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise ModelError(f"{path} is not a polyhpc surrogate model")
        return payload["model"]

    def describe(self) -> dict:
        """Provenance for reports."""
        return {"targets": list(self.ensembles), "members": self.config.members,
                "n_training": self.n_training, "dataset_sha256": self.dataset_sha256,
                "features": self.config.features.to_dict(), "config": asdict(self.config)}


def dataset_hash(frame: pd.DataFrame) -> str:
    """sha256 of the training units and properties, to tie a model to its data."""
    text = frame.to_csv(index=False).encode()
    return hashlib.sha256(text).hexdigest()


def train_surrogate(frame: pd.DataFrame, config: SurrogateConfig = SurrogateConfig()) \
        -> SurrogateModel:
    """Fit one ensemble per target on every valid unit of ``frame``.

    ``frame`` has ``smiles`` and the property columns of
    :func:`polyhpc.data.load_htpmd_properties`; a campaign's MD results are
    appended as more rows with the same columns.
    """
    features, keys = featurize(frame["smiles"].tolist(), config.features)
    valid = np.array([k is not None for k in keys])
    ensembles = {}
    for target in config.targets:
        y = target_values(frame, target)
        rows = valid & np.isfinite(y)
        if rows.sum() < 10:
            raise ModelError(f"only {int(rows.sum())} usable rows for {target}")
        ensembles[target] = fit_ensemble(features[rows], y[rows], config)
    return SurrogateModel(config, ensembles, dataset_hash(frame), int(valid.sum()),
                          frozenset(k for k in keys if k is not None))
