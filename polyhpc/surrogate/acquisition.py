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

    Returns
    -------
    pandas.DataFrame
        The picked rows in pick order, with an ``acquisition`` score column.
    """
    mean_column, std_column = f"surrogate_{target}", f"surrogate_{target}_std"
    if mean_column not in predictions:
        raise PolyhpcError(f"predictions lack {mean_column}")
    if method not in ("top_k", "ucb"):
        raise PolyhpcError(f"unknown acquisition {method!r}; use top_k or ucb")
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
