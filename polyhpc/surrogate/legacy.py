"""Reading a pickled surrogate model of polyhpc before format 3, on the user's word only.

Unpickling runs whatever code the file names, so polyhpc never does it on
its own: :func:`read_pickled_model` is reached only through ``polyhpc
surrogate convert OLD NEW --trust-pickle``, for a file the user made. The
model is then written in the data-only format (:mod:`polyhpc.surrogate.modelfile`)
and never unpickled again.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from polyhpc.errors import ModelError

#: The one pickled format that converts (format 1 predates the saved feature settings).
PICKLED_FORMAT = "polyhpc-surrogate-2"


def read_pickled_model(path: Path):
    """The :class:`~polyhpc.surrogate.model.SurrogateModel` in an old pickle.

    Its tree ensembles (scikit-learn objects then) become plain arrays.

    Raises
    ------
    ModelError
        One line: a missing or unreadable file, a pickle that does not hold a
        polyhpc surrogate model, or format 1 (retrain).
    """
    from polyhpc.surrogate.gbt import TreeEnsemble, forest_arrays
    from polyhpc.surrogate.model import SurrogateModel
    from polyhpc.surrogate.modelfile import train_hint

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"surrogate model {path} not found")
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)  # noqa: S301 - the user vouched for it (--trust-pickle)
    except Exception as exc:  # noqa: BLE001 - unpickling raises many types
        raise ModelError(f"{path} is corrupt or not a pickled surrogate model "
                         f"({exc.__class__.__name__}); {train_hint(path)}") from None
    if not isinstance(payload, dict):
        raise ModelError(f"{path} holds a pickled {type(payload).__name__}, not a polyhpc "
                         f"surrogate model; {train_hint(path)}")
    if payload.get("format") != PICKLED_FORMAT:
        raise ModelError(f"{path} is a {payload.get('format')!r} pickle; only "
                         f"{PICKLED_FORMAT} converts: {train_hint(path)}")
    model = payload.get("model")
    if not isinstance(model, SurrogateModel):
        raise ModelError(f"{path} holds no surrogate model (its 'model' is "
                         f"{type(model).__name__}); {train_hint(path)}")
    for target, regressor in model.regressors.items():
        if isinstance(regressor, TreeEnsemble) and not getattr(regressor, "forest", None):
            try:
                regressor.forest = forest_arrays(regressor.__dict__.pop("members"))
            except (KeyError, ValueError, AttributeError) as exc:
                raise ModelError(f"{path}: the trees of {target} cannot be converted "
                                 f"({exc}); {train_hint(path)}") from None
    return model
