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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from polyhpc.errors import ConfigError, ModelError
from polyhpc.surrogate.config import KINDS, TARGETS, SurrogateConfig
from polyhpc.surrogate.features import featurize, width
from polyhpc.surrogate.gbt import GBTSettings, TreeEnsemble
from polyhpc.surrogate.gp import TanimotoGP
from polyhpc.surrogate.modelfile import FORMAT, read_model_file, train_hint, write_model_file
from polyhpc.surrogate.training_data import check_training_frame

log = logging.getLogger(__name__)

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
    """Feeds the fingerprint and descriptor blocks of one feature matrix to a GP.

    (Its name is kept: the pickled models that ``polyhpc surrogate convert``
    reads refer to it.)
    """

    def __init__(self, gp: TanimotoGP, n_bits: int):
        self.gp, self.n_bits = gp, n_bits

    def predict(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.gp.predict(features[:, :self.n_bits], features[:, self.n_bits:])

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        settings, arrays = self.gp.to_arrays()
        return {**settings, "n_bits": self.n_bits}, arrays

    @classmethod
    def from_arrays(cls, settings: dict, arrays: dict[str, np.ndarray],
                    n_features: int) -> _SplitFeatures:
        gp = TanimotoGP.from_arrays(settings, arrays)
        n_bits = settings["n_bits"]
        if gp.fingerprints.shape[1] != n_bits or n_bits + gp.z.shape[1] != n_features:
            raise ValueError(f"the GP was fitted on {gp.fingerprints.shape[1]} + "
                             f"{gp.z.shape[1]} features; the model's features have "
                             f"{n_features} ({n_bits} fingerprint bits)")
        return cls(gp, n_bits)


#: Regressor class of each kind, as saved in a model file.
_REGRESSORS = {"gp": _SplitFeatures, "gbt": TreeEnsemble}


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
        """Write the model as arrays and JSON settings (``.npz``, no pickle).

        See :mod:`polyhpc.surrogate.modelfile`; ``path`` keeps the name it is
        given (``.npz`` is the suffix to use).
        """
        from polyhpc.config import to_dict
        from polyhpc.fileio import finite_json

        regressors, arrays = {}, {}
        for target, regressor in self.regressors.items():
            kind = next(k for k, cls in _REGRESSORS.items() if isinstance(regressor, cls))
            settings, parts = regressor.to_arrays()
            regressors[target] = {"kind": kind, **settings}
            arrays.update({f"{target}.{name}": value for name, value in parts.items()})
        meta = {"versions": _versions(), "config": to_dict(self.config),
                "regressors": regressors, "dataset_sha256": self.dataset_sha256,
                "n_training": self.n_training, "training_keys": sorted(self.training_keys),
                "provenance": finite_json(self.provenance)}
        write_model_file(Path(path), meta, arrays)

    @classmethod
    def load(cls, path: Path) -> SurrogateModel:
        """Load a saved model without running any code from it.

        Raises
        ------
        ModelError
            One line: a missing, foreign, corrupt or inconsistent file, or an
            old pickled model (the message says how to retrain or convert it).
        """
        path = Path(path)
        meta, arrays = read_model_file(path)
        if not isinstance(meta.get("regressors"), dict) or not meta["regressors"]:
            raise ModelError(f"{path} holds no surrogate model (no regressors); "
                             f"{train_hint(path)}")
        try:
            return cls._from_file(meta, arrays)
        except ConfigError as exc:
            raise ModelError(f"{path}: its settings are invalid ({exc}); {train_hint(path)}") \
                from None
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            reason = f"{exc.__class__.__name__}: {exc}".splitlines()[0]
            raise ModelError(f"{path} is a damaged surrogate model ({reason}); "
                             f"{train_hint(path)}") from None

    @classmethod
    def _from_file(cls, meta: dict, arrays: dict[str, np.ndarray]) -> SurrogateModel:
        """The model of a file's settings and arrays; ``ValueError`` and kin when damaged."""
        from polyhpc.config import load_config

        config = load_config(meta["config"], SurrogateConfig)
        if set(meta["regressors"]) != set(config.targets):
            raise ValueError(f"regressors for {sorted(meta['regressors'])}, but the config "
                             f"names targets {list(config.targets)}")
        n_features = width(config.feature_settings)
        regressors = {}
        for target in config.targets:
            settings = dict(meta["regressors"][target])
            if settings.pop("kind") != config.kind:
                raise ValueError(f"the {target} regressor is not of kind {config.kind}")
            parts = {name[len(target) + 1:]: value for name, value in arrays.items()
                     if name.startswith(target + ".")}
            regressors[target] = _REGRESSORS[config.kind].from_arrays(settings, parts,
                                                                      n_features)
        keys = meta["training_keys"]
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise ValueError("training_keys is not a list of strings")
        for name, kind in (("dataset_sha256", str), ("n_training", int), ("provenance", dict)):
            if not isinstance(meta[name], kind) or isinstance(meta[name], bool):
                raise ValueError(f"{name} is {type(meta[name]).__name__}, expected "
                                 f"{kind.__name__}")
        return cls(config, regressors, meta["dataset_sha256"], meta["n_training"],
                   frozenset(keys), meta["provenance"])

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
