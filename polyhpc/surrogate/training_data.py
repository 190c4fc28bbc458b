"""Checks on a training frame before any model sees it.

The campaign retrains the surrogate on HTP-MD plus its own MD results, so
rows arrive from code that polyhpc does not control. A value in the wrong
unit must stop training with a message, never be relabelled or converted
silently: a conductivity column that does not say S/cm in its name, rows that
give conductivity only in mS/cm, or values no polymer electrolyte reaches in
S/cm (the usual sign of mS/cm numbers in an S/cm column) are refused.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from polyhpc.errors import DataIntegrityError

log = logging.getLogger(__name__)

#: Property word in a column name -> the unit suffix its name must carry.
_UNIT_SUFFIXES = {"conductiv": ("conductivity", "_S_per_cm"),
                  "diffusiv": ("diffusivity", "_cm2_per_s")}
#: Columns that mention a property but are not values to train on, or are checked below.
_ALLOWED = {"conductivity_mS_per_cm", "high_conductivity"}


def _rows(frame: pd.DataFrame, mask: np.ndarray, limit: int = 5) -> str:
    picked = np.flatnonzero(mask)
    shown = ", ".join(f"{i} ({frame['smiles'].iloc[i]})" for i in picked[:limit])
    more = f" and {len(picked) - limit} more" if len(picked) > limit else ""
    return f"row(s) {shown}{more}"


def check_training_frame(frame: pd.DataFrame, columns: list[str],
                         max_conductivity_S_per_cm: float) -> dict[str, int]:
    """Refuse a frame whose property values or units cannot be trusted.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``smiles`` plus property columns (HTP-MD names and units).
    columns : list of str
        The property columns the model will learn (e.g. ``conductivity_S_per_cm``).
    max_conductivity_S_per_cm : float
        Largest plausible conductivity in S/cm.

    Returns
    -------
    dict
        Per column, the number of rows without a value (skipped for that target).

    Raises
    ------
    DataIntegrityError
        Naming the column, the rows and what to do.
    """
    if "smiles" not in frame.columns:
        raise DataIntegrityError("training data lacks a 'smiles' column")
    _check_unit_suffixes(frame)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataIntegrityError(f"training data lacks column(s) {', '.join(missing)}")
    numbers = _numeric_columns(frame, columns)
    if "conductivity_S_per_cm" in columns and "conductivity_mS_per_cm" in frame.columns:
        _check_conductivity_units_agree(frame, numbers["conductivity_S_per_cm"],
                                        numbers["conductivity_mS_per_cm"])
    skipped = {}
    for column in columns:
        values = numbers[column]
        _check_plausible(frame, column, values, max_conductivity_S_per_cm)
        skipped[column] = int((~np.isfinite(values)).sum())
        if skipped[column]:
            log.info("%d rows without %s are skipped for that target", skipped[column], column)
    return skipped


def _check_unit_suffixes(frame: pd.DataFrame) -> None:
    """A column that names a property must carry its unit in its name."""
    for name in frame.columns:
        lowered = str(name).lower()
        if lowered.startswith("surrogate_") or name in _ALLOWED:
            continue
        for stem, (word, suffix) in _UNIT_SUFFIXES.items():
            if stem in lowered and not str(name).endswith(suffix):
                raise DataIntegrityError(
                    f"column {name!r} looks like a {word} but its name does not give the unit "
                    f"{suffix[1:]}; give {word} values in a column named '...{suffix}' "
                    "(polyhpc never guesses a unit)")


def _numeric_columns(frame: pd.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """float64 values of the target columns (and mS/cm conductivity); text is refused."""
    numbers = {}
    for column in dict.fromkeys(c for c in (*columns, "conductivity_mS_per_cm")
                                if c in frame.columns):
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        text = frame[column].notna().to_numpy() & np.isnan(values)
        if text.any():
            raise DataIntegrityError(f"{column}: {_rows(frame, text)} are not numbers")
        numbers[column] = values
    return numbers


def _check_conductivity_units_agree(frame: pd.DataFrame, s: np.ndarray, ms: np.ndarray) -> None:
    """Rows with mS/cm only are refused, and so are rows where S/cm and mS/cm disagree."""
    only_ms = np.isnan(s) & np.isfinite(ms)
    if only_ms.any():
        raise DataIntegrityError(
            f"{_rows(frame, only_ms)} give conductivity only in mS/cm "
            "(conductivity_mS_per_cm); the surrogate trains on conductivity_S_per_cm: "
            "convert those values (S/cm = mS/cm / 1000) before training")
    both = np.isfinite(s) & np.isfinite(ms)
    disagree = both & ~np.isclose(ms, 1e3 * s, rtol=1e-6, atol=0.0)
    if disagree.any():
        raise DataIntegrityError(
            f"{_rows(frame, disagree)}: conductivity_mS_per_cm is not 1000 x "
            "conductivity_S_per_cm; one of the two columns has the wrong unit")


def _check_plausible(frame: pd.DataFrame, column: str, values: np.ndarray,
                     max_conductivity_S_per_cm: float) -> None:
    """Transport values are positive; a conductivity above the bound is mS/cm by mistake."""
    finite = np.isfinite(values)
    if column.endswith(("_S_per_cm", "_cm2_per_s")):
        bad = finite & (values <= 0)
        if bad.any():
            raise DataIntegrityError(
                f"{column} must be positive (the model learns its log10); "
                f"{_rows(frame, bad)} are not: drop failed MD results before training")
    if column == "conductivity_S_per_cm":
        high = finite & (values > max_conductivity_S_per_cm)
        if high.any():
            raise DataIntegrityError(
                f"conductivity_S_per_cm above {max_conductivity_S_per_cm:g} S/cm in "
                f"{_rows(frame, high)} (up to {np.nanmax(values[high]):.3g}); no polymer "
                "electrolyte conducts that well (HTP-MD spans 6.9e-06 to 5.1e-04 S/cm): "
                "are these values in mS/cm?")
