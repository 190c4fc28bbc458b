"""Surrogate property models: train on HTP-MD (plus MD results), predict, save.

Two kinds, chosen by :attr:`SurrogateConfig.kind`:

- ``gp`` (default): a Gaussian process with a Tanimoto kernel on periodic,
  intensive polymer fingerprints (optionally plus a linear kernel on
  chain-physics descriptors; :mod:`polyhpc.surrogate.gp`). It ranks units
  shorter than any training unit and units beyond the training range better
  than the trees, and its standard deviation is calibrated (see ``polyhpc
  surrogate evaluate --ood`` and ``analysis/surrogate_ood.py``).
- ``gbt``: the first surrogate, bootstrap ensembles of gradient-boosted trees
  on unit fingerprints (:mod:`polyhpc.surrogate.gbt`), kept selectable.

Predictions always carry a ``surrogate_`` prefix so they are never mistaken
for MD results.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from polyhpc.errors import ModelError
from polyhpc.surrogate.config import KINDS, TARGETS, SurrogateConfig
from polyhpc.surrogate.features import featurize
from polyhpc.surrogate.gbt import GBTSettings, TreeEnsemble
from polyhpc.surrogate.gp import TanimotoGP
from polyhpc.surrogate.training_data import check_training_frame

log = logging.getLogger(__name__)

FORMAT = "polyhpc-surrogate-2"
__all__ = ["FORMAT", "KINDS", "TARGETS", "SurrogateConfig", "SurrogateModel", "fit_regressor",
           "target_values", "train_surrogate"]


def target_values(frame: pd.DataFrame, target: str) -> np.ndarray:
    """Values of ``target`` (transformed) from a property frame; NaN where missing."""
    if target not in TARGETS:
        raise ModelError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    column, transform = TARGETS[target]
    if column not in frame.columns:
        raise ModelError(f"training data lacks column {column!r} for target {target}")
    values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    if transform == "log10":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
    return values


def fit_regressor(features: np.ndarray, y: np.ndarray, config: SurrogateConfig):
    """One fitted regressor of ``config.kind`` with ``predict(features) -> (mean, std)``."""
    if config.kind == "gbt":
        settings = GBTSettings(config.members, config.max_iter, config.learning_rate,
                               config.max_leaf_nodes, config.l2_regularization, config.seed)
        return TreeEnsemble(settings).fit(features, y)
    n_bits = config.feature_settings.n_bits
    gp = TanimotoGP(config.gp, config.seed)
    return _SplitFeatures(gp.fit(features[:, :n_bits], features[:, n_bits:], y), n_bits)


class _SplitFeatures:
    """Feeds the fingerprint and descriptor blocks of one feature matrix to a GP."""

    def __init__(self, gp: TanimotoGP, n_bits: int):
        self.gp, self.n_bits = gp, n_bits

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.predict(features[:, :self.n_bits], features[:, self.n_bits:])


def _reason(smiles: str, key: str | None) -> str:
    """Why a unit got no prediction."""
    from polyhpc.chem import check_repeat_unit

    check = check_repeat_unit(smiles)
    if not check.valid:
        return f"invalid repeat unit: {check.reason}"
    if key is None:
        return "valid unit, but its canonical form could not be built"
    return "valid unit, but its features could not be computed (rerun with -v for why)"


def _versions() -> dict:
    import rdkit
    import scipy
    import sklearn

    from polyhpc import __version__

    return {"polyhpc": __version__, "rdkit": rdkit.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__}


@dataclass
class SurrogateModel:
    """A trained surrogate: one regressor per target plus provenance."""

    config: SurrogateConfig
    regressors: dict
    dataset_sha256: str
    n_training: int
    training_keys: frozenset = frozenset()
    provenance: dict = field(default_factory=dict)

    def predict(self, smiles: list[str]) -> pd.DataFrame:
        """Surrogate predictions; a unit without one says why in ``reason``.

        Returns
        -------
        pandas.DataFrame
            One row per input, in order: ``smiles``, ``canonical``, per target
            ``surrogate_<target>`` and ``surrogate_<target>_std`` (predictive
            standard deviation of an MD value; for ``gbt`` the member spread),
            for log10 conductivity also ``surrogate_conductivity_S_per_cm``,
            then ``in_training_set`` and ``reason`` (None when predicted).
        """
        smiles = list(smiles)
        features, keys = featurize(smiles, self.config.feature_settings, cache=False)
        usable = np.array([k is not None for k in keys], dtype=bool) & \
            np.isfinite(features).all(axis=1)
        # One prediction per polymer: every spelling of it gets the very same numbers.
        first: dict[str, int] = {}
        for row in np.flatnonzero(usable):
            first.setdefault(keys[row], int(row))
        unique_rows = list(first.values())
        lookup = {key: i for i, key in enumerate(first)}
        pick = [lookup[keys[row]] for row in np.flatnonzero(usable)]
        out = pd.DataFrame({"smiles": smiles, "canonical": keys})
        for target, regressor in self.regressors.items():
            mean = np.full(len(keys), np.nan)
            std = np.full(len(keys), np.nan)
            if len(unique_rows):
                unique_mean, unique_std = regressor.predict(features[unique_rows])
                mean[usable], std[usable] = unique_mean[pick], unique_std[pick]
            out[f"surrogate_{target}"] = mean
            out[f"surrogate_{target}_std"] = std
        if "log10_conductivity" in self.regressors:
            out["surrogate_conductivity_S_per_cm"] = 10 ** out["surrogate_log10_conductivity"]
        out["in_training_set"] = [k in self.training_keys for k in keys]
        out["reason"] = pd.Series([None if ok else _reason(item, key) for item, key, ok in
                                   zip(smiles, keys, usable, strict=True)], dtype=object)
        return out

    def save(self, path: Path) -> None:
        """Pickle the model with its settings and dataset hash."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT, "versions": _versions(), "model": self}
        partial = path.with_suffix(path.suffix + ".part")
        with open(partial, "wb") as handle:
            pickle.dump(payload, handle)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> SurrogateModel:
        """Load a saved model; missing, foreign or corrupt files give a one-line error."""
        path = Path(path)
        train = "train one with `polyhpc surrogate train --out " + str(path) + "`"
        if not path.is_file():
            raise ModelError(f"surrogate model {path} not found; {train}")
        try:
            with open(path, "rb") as handle:
                payload = pickle.load(handle)  # noqa: S301 - the user's own model file
        except Exception as exc:  # noqa: BLE001 - unpickling raises many types
            raise ModelError(f"{path} is corrupt or not a surrogate model "
                             f"({exc.__class__.__name__}); {train}") from None
        if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith(
                "polyhpc-surrogate"):
            raise ModelError(f"{path} is not a polyhpc surrogate model; {train}")
        if payload["format"] != FORMAT:
            raise ModelError(f"{path} is a {payload['format']} model, this polyhpc reads "
                             f"{FORMAT}; {train}")
        return payload["model"]

    def describe(self) -> dict:
        """Provenance for reports."""
        return {"kind": self.config.kind, "targets": list(self.regressors),
                "n_training": self.n_training, "dataset_sha256": self.dataset_sha256,
                "features": self.config.feature_settings.to_dict(),
                "config": asdict(self.config), **self.provenance}


def dataset_hash(frame: pd.DataFrame) -> str:
    """sha256 of the training units and properties, to tie a model to its data."""
    text = frame.to_csv(index=False).encode()
    return hashlib.sha256(text).hexdigest()


def train_surrogate(frame: pd.DataFrame, config: SurrogateConfig | None = None) -> SurrogateModel:
    """Fit one regressor per target on every valid unit of ``frame``.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``smiles`` and the property columns of
        :func:`polyhpc.data.load_htpmd_properties` in their units
        (``conductivity_S_per_cm`` in S/cm); a campaign appends its MD results
        as more rows. Rows without a value for a target are skipped for it;
        invalid units are skipped and counted.
    config : SurrogateConfig, optional
        Default: ``SurrogateConfig()`` (the Gaussian process).

    Returns
    -------
    SurrogateModel

    Raises
    ------
    DataIntegrityError
        A column or value in an unknown or implausible unit (see
        :func:`~polyhpc.surrogate.training_data.check_training_frame`).
    ModelError
        Fewer than 10 usable rows for a target.
    """
    config = config or SurrogateConfig()
    start = time.perf_counter()
    columns = [TARGETS[t][0] for t in config.targets]
    skipped = check_training_frame(frame, columns, config.max_conductivity_S_per_cm)
    features, keys = featurize(frame["smiles"].tolist(), config.feature_settings)
    valid = np.array([k is not None for k in keys], dtype=bool) & \
        np.isfinite(features).all(axis=1)
    if not valid.all():
        log.info("%d of %d units are invalid and skipped", int((~valid).sum()), len(keys))
    regressors, rows_used = {}, {}
    for target in config.targets:
        y = target_values(frame, target)
        rows = valid & np.isfinite(y)
        if rows.sum() < 10:
            raise ModelError(f"only {int(rows.sum())} usable rows for {target}; need 10")
        regressors[target] = fit_regressor(features[rows], y[rows], config)
        rows_used[target] = int(rows.sum())
    provenance = {
        "versions": _versions(), "rows_per_target": rows_used,
        "rows_without_value": skipped, "invalid_units": int((~valid).sum()),
        "train_s": round(time.perf_counter() - start, 2),
        "hyperparameters": {t: r.gp.hyperparameters() for t, r in regressors.items()
                            if isinstance(r, _SplitFeatures)},
    }
    return SurrogateModel(config, regressors, dataset_hash(frame), int(valid.sum()),
                          frozenset(k for k in keys if k is not None), provenance)
