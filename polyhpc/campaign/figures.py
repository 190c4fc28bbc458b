"""The campaign report's figures (paper Figs. 2 and 3, surrogate against MD).

Each figure shows only what is a result (:mod:`polyhpc.campaign.fidelity`);
MD of a profile too short to resolve transport is drawn as a pipeline check,
so labelled in its title. Titles name the source, the MD profile and the
force field. Any format matplotlib writes (``png``, ``svg``, ``pdf``) at any
``dpi``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: One colour per iteration (colour-blind safe: Okabe-Ito).
COLOURS = ["#E69F00", "#CC79A7", "#0072B2", "#D55E00", "#009E73", "#56B4E9"]
TRAINING_COLOUR = "#999999"
REFERENCE_COLOUR = "#000000"


def _pyplot():
    from polyhpc.analysis.plots import _pyplot as pyplot

    return pyplot()


def _label(data: dict) -> str:
    name = "efficacy" if data["objective"] == "efficacy" else "ionic conductivity"
    source = {"md": "MD", "surrogate": "surrogate predictions"}.get(data["source"])
    return f"{name} ({source}) [mS/cm]" if source else f"{name} [mS/cm]"


def _title(data: dict, what: str) -> str:
    md = data["md"]
    if data["source"] == "surrogate":
        where = "surrogate predictions (trained on HTP-MD, PCFF+), not MD"
    elif data["source"] is None:
        where = f"no results: MD profile {md['protocol']} is a pipeline check"
    else:
        where = f"MD profile {md['protocol']}, {md['force_field']}"
    return f"campaign {data['name']}: {what}\n{where}"


def plot_distribution(data: dict, path: Path, dpi: int = 150) -> Path:
    """Paper Fig. 2: training set and iterations, means dotted, the reference solid.

    Zero values cannot sit on the log axis: the legend counts them, and the means include
    them (the report's rule). Without results only the training set is drawn.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    series = [("training set (HTP-MD, PCFF+)", np.asarray(data["training"]) * 1e3,
               TRAINING_COLOUR)]
    if data["source"] is not None:
        for k, it in enumerate(data["iterations"]):
            where = f" (MD, {data['md']['force_field']})" if data["source"] == "md" else ""
            series.append((f"iteration {it['iteration']}{where}",
                           np.asarray(it["values"]) * 1e3, COLOURS[k % len(COLOURS)]))
    positive = np.concatenate([v[v > 0] for _, v, _ in series if len(v)] or [np.array([1.0])])
    if len(positive) == 0:
        positive = np.array([1.0])
    bins = np.logspace(np.log10(positive.min()) - 0.05, np.log10(positive.max()) + 0.05, 40)
    for label, values, colour in series:
        if not len(values):
            continue
        shown = values[values > 0]
        zeros = len(values) - len(shown)
        mean = float(values.mean())
        extra = f", {zeros} at 0 not shown" if zeros else ""
        # fractions, not densities: on log bins a density hides a small set at high values
        ax.hist(shown, bins=bins, weights=np.full(len(shown), 1.0 / len(values)), alpha=0.55,
                color=colour, label=f"{label}: n={len(values)}, mean {mean:.3g}{extra}")
        if mean > 0:
            ax.axvline(mean, color=colour, ls=":", lw=1.8)
    ref = data["reference"]
    agg = ref["aggregate"] if ref else None
    if agg and agg["objective_mean"] and agg["objective_mean"] > 0:
        value = agg["objective_mean"] * 1e3
        ax.axvline(value, color=REFERENCE_COLOUR, lw=1.8,
                   label=f"reference {ref['display']}: {value:.3g}")
    elif ref is not None:
        ax.plot([], [], color=REFERENCE_COLOUR, lw=1.8,
                label=f"reference {ref['display']}: unresolvable, not drawn")
    if data["source"] is None:
        ax.text(0.98, 0.97, "no results: a pipeline check\n(the MD profile cannot resolve "
                "conductivity)", transform=ax.transAxes, ha="right", va="top", fontsize=9,
                color="#D55E00")
    ax.set_xscale("log")
    ax.set_xlabel(_label(data))
    ax.set_ylabel("fraction of polymers per bin")
    ax.set_title(_title(data, "distribution per iteration (Fig. 2)"), fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def plot_replicas(data: dict, path: Path, dpi: int = 150, limit: int = 40) -> Path | None:
    """Paper Fig. 3: each candidate's MD replicas, mean ± std, against the reference's band.

    The paper's caption says mean and standard deviation: drawn as such (a bar from mean -
    std to mean + std and a marker at the mean), with every replica as a dot. MD of a
    pipeline-check profile is drawn under a title saying so.
    """
    rows = [c for it in data["iterations"] for c in it["candidates"] if c["replicas"]]
    if not rows:
        return None
    rows.sort(key=lambda c: -float(np.mean(c["replicas"])))
    rows = rows[:limit]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(7.5, 0.4 * len(rows) + 2.5), 5.0))
    ref = data["reference"]
    md_results = data["sources"]["md_results"]
    if ref and len(ref["replicas"]):
        values = np.asarray(ref["replicas"], float) * 1e3
        mean, std = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
        ax.axhspan(mean - std, mean + std, color="#56B4E9", alpha=0.3, lw=0,
                   label=reference_label(ref["display"], mean, std, md_results))
        ax.axhline(mean, color="#0072B2", ls="--", lw=1.5)
    for x, c in enumerate(rows, start=1):
        values = np.asarray(c["replicas"], float) * 1e3
        colour = "#D55E00" if c["winner"] else "#555555"
        ax.plot(np.full(len(values), x), values, "o", ms=3.5, color=colour, alpha=0.6)
        std = values.std(ddof=1) if len(values) > 1 else 0.0
        ax.errorbar([x], [values.mean()], yerr=[[std], [std]], fmt="D", ms=6, color=colour,
                    capsize=4, lw=1.5)
    if any(c["winner"] for c in rows):
        ax.plot([], [], "D", color="#D55E00", label="winner: mean ± std")
    ax.plot([], [], "D", color="#555555", label="other candidates: mean ± std")
    ax.plot([], [], "o", color="#555555", alpha=0.6, ms=3.5, label="one replica")
    ax.set_xticks(range(1, len(rows) + 1),
                  [f"{c['iteration']}: {c['display']}" for c in rows], rotation=70,
                  fontsize=7, ha="right")
    ax.set_xlim(0.3, len(rows) + 0.7)
    name = "efficacy" if data["objective"] == "efficacy" else "ionic conductivity"
    ax.set_ylabel(f"{name} (MD{'' if md_results else ', not results'}) [mS/cm]")
    what = (f"MD replicas per candidate ({len(rows)} shown)" if md_results else
            "PIPELINE CHECK, NOT RESULTS: MD replicas of a profile too short for conductivity")
    ax.set_title(_title({**data, "source": "md"}, what), fontsize=9,
                 color="black" if md_results else "#D55E00")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)


def reference_label(display: str, mean: float, std: float, resolvable: bool) -> str:
    """The legend of the reference's band, in mS/cm; never a number a profile cannot resolve.

    A pipeline-check profile's reference is said to be unresolvable: its band is drawn
    where the replicas fell, but the legend gives no value (it would read as a result).
    """
    if not resolvable:
        return f"reference {display}: unresolvable by this profile (band: its replicas)"
    return f"reference {display}: {mean:.3g} ± {std:.2g} mS/cm (mean ± std)"


def plot_surrogate_vs_md(data: dict, path: Path, dpi: int = 150) -> Path | None:
    """The surrogate's prediction against the MD mean, where MD gives results."""
    if not data["sources"]["md_results"] or data["objective"] != "conductivity":
        return None
    pairs = [(c["surrogate_mean"], c["surrogate_std"] or 0.0,
              c["md"]["objective_mean"] * 1e3, c["iteration"])
             for it in data["iterations"] for c in it["candidates"]
             if c["surrogate_mean"] is not None and c["md"] and c["md"]["status"] == "ok"
             and (c["md"]["objective_mean"] or 0) > 0]
    if not pairs:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    log_mean, log_std, y, it = (np.array(v) for v in zip(*pairs, strict=True))
    x = 10 ** log_mean * 1e3  # mS/cm; the error bar is the predicted +-1 sigma (log10)
    errors = np.vstack([x - 10 ** (log_mean - log_std) * 1e3, 10 ** (log_mean + log_std) * 1e3 - x])
    for k, iteration in enumerate(np.unique(it)):
        pick = it == iteration
        ax.errorbar(x[pick], y[pick], xerr=errors[:, pick], fmt="o", ms=5, capsize=2,
                    color=COLOURS[k % len(COLOURS)], label=f"iteration {iteration}")
    low = max(min(x.min() - errors[0].max(), y.min()) * 0.8, 1e-4)
    high = max(x.max() + errors[1].max(), y.max()) * 1.25
    ax.plot([low, high], [low, high], color="0.5", lw=1, ls="--", label="y = x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("surrogate prediction ± 1σ [mS/cm]")
    ax.set_ylabel("MD replica mean [mS/cm]")
    ax.set_title(_title({**data, "source": "md"}, "surrogate vs MD"), fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return Path(path)
