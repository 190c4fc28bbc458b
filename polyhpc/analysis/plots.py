"""Figures of an analysis result: MSD curves and the cluster population map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from polyhpc.analysis.results import TransportResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_msd(result: TransportResult, path: Path) -> Path:
    """Log-log MSD curves of Li, TFSI and polymer with the HTP-MD slope-1 guide."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    labels = {"li": "Li$^+$", "tfsi": "TFSI$^-$ (N)", "poly": "polymer N/O/S"}
    for name, curve in result.msd.items():
        ax.loglog(curve.time_ps[1:], curve.msd_A2[1:], label=labels.get(name, name))
    if "li" in result.msd:
        t = result.msd["li"].time_ps[1:]
        d_A2_per_ps = result.li_diffusivity / 1e-4
        ax.loglog(t, 6 * d_A2_per_ps * t, "k:", lw=1, label="6 D$_{Li}$ t (end-point D)")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å$^2$)")
    ax.set_title(f"σ = {result.conductivity * 1e3:.4g} mS/cm, t$_+$ = "
                 f"{result.transference_number:.3f}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_population(result: TransportResult, path: Path, size: int = 10) -> Path:
    """Heat map of the mean cluster population P[i cations, j anions]."""
    plt = _pyplot()
    matrix = result.population[:size, :size]
    fig, ax = plt.subplots(figsize=(5, 4.4), dpi=120)
    shown = np.ma.masked_where(matrix <= 0, matrix)
    image = ax.imshow(shown, origin="lower", cmap="viridis")
    for (i, j), value in np.ndenumerate(matrix):
        if value > 0:
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=6, color="w")
    ax.set_xlabel("anions in cluster")
    ax.set_ylabel("cations in cluster")
    ax.set_title("mean clusters per frame", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
