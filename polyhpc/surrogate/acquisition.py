"""Which candidates go to MD: acquisition on surrogate predictions.

- ``top_k``: the K best predicted means;
- ``ucb``: upper confidence bound, mean + beta * std (Srinivas et al., ICML
  2010), greedy in score order with a diversity filter: no two picks share a
  canonical identity, and no pick has a Tanimoto similarity above
  ``max_similarity`` to an earlier pick.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rdkit import DataStructs

from polyhpc.chem.descriptors import morgan_fingerprint
from polyhpc.errors import PolyhpcError


def select(predictions: pd.DataFrame, k: int, method: str = "ucb", beta: float = 1.0,
           max_similarity: float = 0.7, target: str = "log10_conductivity") -> pd.DataFrame:
    """Pick ``k`` rows of ``SurrogateModel.predict`` output to evaluate by MD.

    Parameters
    ----------
    predictions : pandas.DataFrame
        ``canonical``, ``surrogate_<target>`` and (for UCB) ``surrogate_<target>_std``.
    k : int
        How many to pick, at least 1 (fewer come back when fewer are usable).
    method : {"ucb", "top_k"}
    beta : float
        UCB exploration weight, >= 0 (0 ranks by the mean).
    max_similarity : float
        UCB diversity filter in [0, 1]: the largest Tanimoto similarity of a
        pick to an earlier pick (1 disables the filter).
    target : str

    Returns
    -------
    pandas.DataFrame
        The picked rows in pick order, with an ``acquisition`` score column.

    Raises
    ------
    PolyhpcError
        For an out-of-range argument or missing columns.
    """
    mean_column, std_column = f"surrogate_{target}", f"surrogate_{target}_std"
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise PolyhpcError(f"k must be an integer >= 1, got {k!r}")
    if not 0.0 <= max_similarity <= 1.0:
        raise PolyhpcError(f"max_similarity must be in [0, 1], got {max_similarity!r}")
    if not 0.0 <= beta < np.inf:
        raise PolyhpcError(f"beta must be finite and >= 0, got {beta!r}")
    if method not in ("top_k", "ucb"):
        raise PolyhpcError(f"unknown acquisition {method!r}; use top_k or ucb")
    missing = [c for c in ("canonical", mean_column, *([std_column] if method == "ucb" else []))
               if c not in predictions]
    if missing:
        raise PolyhpcError(f"predictions lack {', '.join(missing)}")
    usable = predictions[predictions[mean_column].notna() & predictions["canonical"].notna()]
    scores = usable[mean_column].to_numpy()
    if method == "ucb":
        scores = scores + beta * usable[std_column].to_numpy()
    order = np.argsort(-scores, kind="stable")
    picked, keys, fingerprints = [], set(), []
    for index in order:
        row = usable.iloc[index]
        if row["canonical"] in keys:
            continue
        fingerprint = morgan_fingerprint(row["canonical"], canonical=True)
        if method == "ucb" and fingerprints and max(
                DataStructs.BulkTanimotoSimilarity(fingerprint, fingerprints)) > max_similarity:
            continue
        picked.append(index)
        keys.add(row["canonical"])
        fingerprints.append(fingerprint)
        if len(picked) == k:
            break
    out = usable.iloc[picked].copy()
    out["acquisition"] = scores[picked]
    return out.reset_index(drop=True)
