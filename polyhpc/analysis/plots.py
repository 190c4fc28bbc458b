"""Figures of an analysis result: MSD curves and the cluster population map.

Every title names the polymer, the MD protocol and the force field of the
trajectory; a protocol that deviates from the paper's says so in red, so a
figure of a smoke run is never mistaken for a paper-protocol one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from polyhpc.analysis.results import TransportResult


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plain_number(value: float, _position=None) -> str:
    """Tick label as a plain number (``0.5``, ``2``, ``300``), not ``2×10⁰``."""
    if value <= 0 or not math.isfinite(value):
        return ""
    if 1e-3 <= value < 1e5:
        return f"{value:.6g}"
    exponent = math.floor(math.log10(value))
    mantissa = value / 10**exponent
    return f"$10^{{{exponent}}}$" if math.isclose(mantissa, 1.0) else ""


def _minor_label(mantissas: tuple[int, ...]):
    """Plain labels for minor log ticks whose leading digit is in ``mantissas``."""
    def label(value, position=None):
        if value <= 0:
            return ""
        lead = round(value / 10 ** math.floor(math.log10(value) + 1e-9))
        return _plain_number(value) if lead in mantissas else ""
    return label


def _plain_log_axes(ax) -> None:
    """Plain-number labels on log axes; a few minor ones where an axis spans < 1.3 decades."""
    from matplotlib import ticker

    for axis, (low, high) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        axis.set_major_formatter(ticker.FuncFormatter(_plain_number))
        mantissas = (2, 3, 5) if low > 0 and high / low < 20 else ()
        axis.set_minor_formatter(ticker.FuncFormatter(_minor_label(mantissas)))


def _title(fig, ax, result: TransportResult, headline: str) -> None:
    """Headline and provenance line; a red warning above them for a deviating protocol."""
    provenance = result.provenance
    ax.set_title(f"{headline}\n{provenance.title()}", fontsize=8)
    top = 1.0
    if provenance.deviations:
        fig.text(0.5, 0.99, f"protocol {provenance.protocol!r} deviates from the paper: "
                 "not comparable with HTP-MD values", ha="center", va="top", fontsize=8,
                 color="#b00000")
        top = 0.955
    fig.tight_layout(rect=(0, 0, 1, top))


def msd_figure(result: TransportResult):
    """Log-log MSD curves of Li, TFSI and polymer with the HTP-MD slope-1 guide."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4.4), dpi=120)
    labels = {"li": "Li$^+$", "tfsi": "TFSI$^-$ (N)", "poly": "polymer N/O/S"}
    for name, curve in result.msd.items():
        ax.loglog(curve.time_ps[1:], curve.msd_A2[1:], label=labels.get(name, name))
    if "li" in result.msd:
        t = result.msd["li"].time_ps[1:]
        d_A2_per_ps = result.li_diffusivity / 1e-4
        ax.loglog(t, 6 * d_A2_per_ps * t, "k:", lw=1, label="6 D$_{Li}$ t (end-point D)")
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å$^2$)")
    t_plus = (f"{result.transference_number:.3f}" if math.isfinite(result.transference_number)
              else "n/a")
    ax.legend(fontsize=8, loc="lower right")
    _plain_log_axes(ax)
    _title(fig, ax, result, f"σ = {result.conductivity * 1e3:.4g} mS/cm, t$_+$ = {t_plus}")
    return fig


def population_figure(result: TransportResult, size: int = 10):
    """Heat map of the mean cluster population P[i cations, j anions] (log colour scale).

    Shows clusters up to ``size`` - 1 ions of each kind, cropped to the
    occupied corner; the colour bar is in mean clusters per frame.
    """
    from matplotlib import colors, ticker

    plt = _pyplot()
    occupied = np.argwhere(result.population[:size, :size] > 0)
    extent = int(occupied.max()) + 2 if occupied.size else 2
    matrix = result.population[:min(size, max(extent, 3)), :min(size, max(extent, 3))]
    fig, ax = plt.subplots(figsize=(5.5, 4.8), dpi=120)
    shown = np.ma.masked_where(matrix <= 0, matrix)
    positive = matrix[matrix > 0]
    low = float(positive.min()) if positive.size else 0.1
    norm = colors.LogNorm(vmin=low, vmax=max(float(matrix.max()), low * 10))
    image = ax.imshow(shown, origin="lower", cmap="viridis", norm=norm)
    for (i, j), value in np.ndenumerate(matrix):
        if value > 0:
            bright = norm(value) > 0.6  # dark text on the yellow end of viridis
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", fontsize=7,
                    color="k" if bright else "w")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_xlabel("anions in cluster")
    ax.set_ylabel("cations in cluster")
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label("mean number of clusters per frame")
    colorbar.ax.yaxis.set_major_formatter(ticker.FuncFormatter(_plain_number))
    colorbar.ax.yaxis.set_minor_formatter(ticker.FuncFormatter(_minor_label((2, 5))))
    _title(fig, ax, result, f"cluster population over {result.n_frames} frames")
    return fig


def _save(fig, path: Path) -> Path:
    fig.savefig(path)
    _pyplot().close(fig)
    return Path(path)


def plot_msd(result: TransportResult, path: Path) -> Path:
    """Write :func:`msd_figure` to ``path``."""
    return _save(msd_figure(result), path)


def plot_population(result: TransportResult, path: Path, size: int = 10) -> Path:
    """Write :func:`population_figure` to ``path``."""
    return _save(population_figure(result, size), path)
