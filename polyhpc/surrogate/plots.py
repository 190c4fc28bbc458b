"""Figures of a surrogate evaluation: uncertainty calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_calibration(predictions: dict, calibration: dict, path: Path,
                     title: str = "grouped cross-validation",
                     unit: str = "log10 S/cm") -> Path:
    """Three panels: coverage of mean +- k sigma, standardized residuals, parity.

    Parameters
    ----------
    predictions : dict
        ``y``, ``mean`` and ``std`` lists (out-of-fold, target units, e.g.
        log10 S/cm), as kept by ``cross_validate(..., keep_predictions=True)``.
    calibration : dict
        :func:`polyhpc.surrogate.evaluate.calibration` of the same predictions.
    path : Path
        PNG to write.
    title : str
    unit : str
        Unit of the target, for the parity axes.
    """
    plt = _pyplot()
    y, mean, std = (np.asarray(predictions[k], dtype=float) for k in ("y", "mean", "std"))
    z = (y - mean) / np.where(std > 0, std, np.nan)
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), dpi=120)

    ax = axes[0]
    expected = [p["expected"] for p in calibration["curve"]]
    observed = [p["observed"] for p in calibration["curve"]]
    ax.plot([0, 1], [0, 1], "k:", lw=1, label="calibrated")
    ax.plot(expected, observed, "o-", color="C0", label="model")
    shares = {p["k"]: p for p in calibration["curve"]}
    ax.text(0.97, 0.04, "\n".join(f"±{k:g}σ: {100 * shares[k]['observed']:.1f} % "
                                  f"({100 * shares[k]['expected']:.1f} % if calibrated)"
                                  for k in (1.0, 2.0)),
            transform=ax.transAxes, ha="right", va="bottom", fontsize=8)
    ax.axhspan(0.6, 0.75, xmin=0, xmax=1, color="C2", alpha=0.12, label="goal at ±1σ: 60–75 %")
    ax.set_xlabel("expected share inside mean ± kσ (Gaussian)")
    ax.set_ylabel("observed share of MD values")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("coverage", fontsize=10)

    ax = axes[1]
    finite = z[np.isfinite(z)]
    edges = np.linspace(-5, 5, 51)
    ax.hist(np.clip(finite, -5, 5), bins=edges, density=True, color="C0", alpha=0.7,
            label="(MD − mean) / σ")
    grid = np.linspace(-5, 5, 201)
    ax.plot(grid, np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi), "k", lw=1, label="N(0, 1)")
    ax.set_xlabel("standardized residual (clipped to ±5)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title(f"residuals / σ (std {np.std(finite):.2f}; 1 if calibrated)", fontsize=10)

    ax = axes[2]
    points = ax.scatter(y, mean, c=std, s=4, cmap="viridis")
    low, high = np.nanmin([y.min(), mean.min()]), np.nanmax([y.max(), mean.max()])
    ax.plot([low, high], [low, high], "k:", lw=1)
    ax.set_xlabel(f"MD value, held out ({unit})")
    ax.set_ylabel(f"surrogate mean ({unit})")
    fig.colorbar(points, ax=ax, label=f"predicted σ ({unit})")
    ax.set_title("parity", fontsize=10)

    fig.suptitle(f"{title}: {100 * calibration['within_1_sigma']:.1f} % of {len(y)} MD values "
                 "within ±1σ (68.3 % if calibrated)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
