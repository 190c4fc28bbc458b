"""The campaign report: the paper's figures and numbers, from the ledger alone.

``polyhpc campaign report DIR`` writes into ``DIR/report/``:

- ``distribution.png`` (paper Fig. 2): the objective of the training set and
  of each iteration's candidates, with their means and the reference line;
- ``replicas.png`` (paper Fig. 3): per-candidate replica box plots against
  the reference's mean +- std band;
- ``surrogate-vs-md.png``: the surrogate's prediction against MD, for every
  candidate that has both;
- ``report.html`` (self-contained: figures and 2D structures inline) and
  ``report.md``, with the table of polymers above the reference (paper Fig.
  4), the summary numbers and, per winner, the motifs the paper itself calls
  unstable (N-O, O-O, S-O, S-N bonds).

Values from the surrogate are marked "surrogate" wherever they appear.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import numpy as np

from polyhpc.campaign.feedback import SOURCES
from polyhpc.campaign.store import Ledger

#: Stability-screen rules for the bonds the paper itself calls unstable (section 4.2).
PAPER_UNSTABLE_BONDS = {"peroxide": "O-O", "n_o_single": "N-O", "s_o_single": "S-O",
                        "s_n_single": "S-N"}


def unstable_bonds(smiles: str) -> tuple[list[str], list[str]]:
    """The paper's unstable bonds a unit has (junctions included), and other rules it breaks.

    Both come from :mod:`polyhpc.chem.stability` (matched on three joined units).
    """
    from polyhpc.chem.stability import StabilityScreen
    from polyhpc.errors import PolyhpcError

    try:
        broken = StabilityScreen().check(smiles).broken
    except PolyhpcError:
        return [], []
    return ([PAPER_UNSTABLE_BONDS[r] for r in broken if r in PAPER_UNSTABLE_BONDS],
            [r for r in broken if r not in PAPER_UNSTABLE_BONDS])


def _mS(value):
    return None if value is None else value * 1e3


def collect(ledger: Ledger) -> dict:
    """Everything the report shows, as plain data (objective values in S/cm)."""
    config = ledger.meta("config") or {}
    evaluator = config.get("evaluator", {}).get("kind", "md")
    source = SOURCES[evaluator]
    training = (ledger.meta("training_set") or {}).get("conductivity_S_per_cm", [])
    reference = next(iter(ledger.candidates(role="reference")), None)
    feedback = ledger.feedback()
    winners = {(f["iteration"], f["candidate_id"]) for f in feedback if f["role"] == "winner"}

    def describe(c: dict) -> dict:
        agg = ledger.aggregate(c["id"], source) or ledger.aggregate(c["id"])
        replicas = [r["objective"] for r in ledger.results(c["id"], agg["source"])] \
            if agg else []
        unstable, screen = unstable_bonds(c["smiles"])
        return {**c, "aggregate": agg, "replicas": replicas,
                "source": agg["source"] if agg else None,
                "winner": (c["iteration"], c["id"]) in winners,
                "unstable": unstable, "screen": screen}

    iterations = []
    for row in ledger.iterations():
        candidates = [describe(c) for c in ledger.candidates(row["iteration"], "candidate")]
        values = [c["aggregate"]["objective_mean"] for c in candidates
                  if c["aggregate"] and c["aggregate"]["objective_mean"] is not None]
        rejected = row["rejected"] or {}
        iterations.append({
            "iteration": row["iteration"], "status": row["status"], "draws": row["draws"],
            "draws_per_candidate": row["draws_per_candidate"], "rejected": rejected,
            "duplicates": sum(v for k, v in rejected.items()
                              if "same polymer" in k or "duplicate" in k),
            "candidates": candidates, "values": values,
            "failed": sum(c["status"] in ("failed", "unbuildable") for c in candidates)})
    tasks = ledger.tasks()
    hours = {"cpu": 0.0, "gpu": 0.0}
    for t in tasks:
        if t["started_at"] and t["ended_at"]:
            wall_h = (t["ended_at"] - t["started_at"]) / 3600.0
            hours["cpu"] += wall_h * (t["cores"] or 1)
            hours["gpu"] += wall_h * (t["gpus"] or 0)
    md = _md_protocol(ledger)
    return {"name": config.get("name"), "objective": config.get("objective", "conductivity"),
            "md": md, "md_title": f"MD profile {md['protocol']}"
            + (" (deviates from the paper protocol)" if md["deviations"] else ""),
            "evaluator": evaluator, "source": source, "config": config,
            "training": np.asarray(training, float), "iterations": iterations,
            "reference": describe(reference) if reference else None, "hours": hours,
            "versions": ledger.meta("versions") or {},
            "threshold_mS_per_cm": ledger.meta("threshold_mS_per_cm")}


def _md_protocol(ledger: Ledger) -> dict:
    """The MD protocol and force field the campaign's results were computed with."""
    for row in ledger.results(source="md"):
        provenance = row["provenance"] or {}
        if provenance.get("protocol"):
            return {"protocol": provenance["protocol"],
                    "deviations": provenance.get("deviations") or [],
                    "force_field": provenance.get("force_field")}
    config = ledger.meta("config") or {}
    return {"protocol": config.get("md", {}).get("profile", "n/a"), "deviations": [],
            "force_field": None}


def summary(data: dict) -> dict:
    """The paper's summary numbers (section 4.1), in mS/cm."""
    training_mean = float(data["training"].mean()) if len(data["training"]) else None
    rows = []
    for it in data["iterations"]:
        values = it["values"]
        mean = float(np.mean(values)) if values else None
        rows.append({
            "iteration": it["iteration"], "evaluated": len(values), "failed": it["failed"],
            "duplicates": it["duplicates"], "draws_per_candidate": it["draws_per_candidate"],
            "min_mS_per_cm": _mS(min(values)) if values else None,
            "mean_mS_per_cm": _mS(mean), "max_mS_per_cm": _mS(max(values)) if values else None,
            "improvement_over_training": mean / training_mean if mean and training_mean else None,
            "winners": sum(c["winner"] for c in it["candidates"])})
    ref = data["reference"]
    agg = ref["aggregate"] if ref else None
    return {"training_mean_mS_per_cm": _mS(training_mean),
            "reference": None if agg is None else {
                "smiles": ref["smiles"], "mean_mS_per_cm": _mS(agg["objective_mean"]),
                "std_mS_per_cm": _mS(agg["objective_std"]), "n": agg["n_finished"],
                "source": agg["source"]},
            "iterations": rows, "cpu_hours": data["hours"]["cpu"],
            "gpu_hours": data["hours"]["gpu"], "source": data["source"]}


# ---------------------------------------------------------------------------- figures
def _label(data: dict) -> str:
    name = "efficacy" if data["objective"] == "efficacy" else "ionic conductivity"
    mark = " (surrogate predictions)" if data["source"] == "surrogate" else " (MD)"
    return f"{name}{mark} [mS/cm]"


def plot_distribution(data: dict, path: Path) -> Path:
    """Paper Fig. 2: training set and iterations, means dotted, the reference solid."""
    from polyhpc.analysis.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    series = [("training set (HTP-MD)", data["training"] * 1e3, "tab:green")]
    colours = ["tab:orange", "tab:purple", "tab:blue", "tab:red", "tab:brown"]
    for k, it in enumerate(data["iterations"]):
        values = np.array([v for v in it["values"] if v and v > 0]) * 1e3
        series.append((f"iteration {it['iteration']}", values, colours[k % len(colours)]))
    finite = np.concatenate([s[1] for s in series if len(s[1])]) if series else np.array([1.0])
    bins = np.logspace(np.log10(max(finite.min(), 1e-4)), np.log10(finite.max()) + 0.05, 40)
    for label, values, colour in series:
        if not len(values):
            continue
        # fractions, not densities: on log bins a density hides a small set at high values
        ax.hist(values, bins=bins, weights=np.full(len(values), 1.0 / len(values)), alpha=0.5,
                color=colour, label=f"{label} (n={len(values)}, mean {values.mean():.3g})")
        ax.axvline(values.mean(), color=colour, ls=":", lw=1.5)
    ref = data["reference"]
    if ref and ref["aggregate"] and (ref["aggregate"]["objective_mean"] or 0) > 0:
        value = ref["aggregate"]["objective_mean"] * 1e3
        ax.axvline(value, color="black", lw=1.5, label=f"{ref['smiles']} (reference) {value:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel(_label(data))
    ax.set_ylabel("fraction of polymers per bin")
    ax.set_title(f"campaign {data['name']}, {data['md_title']}: distribution per iteration",
                 fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_replicas(data: dict, path: Path, limit: int = 40) -> Path | None:
    """Paper Fig. 3: each candidate's replica values against the reference band."""
    from polyhpc.analysis.plots import _pyplot

    rows = [c for it in data["iterations"] for c in it["candidates"] if c["replicas"]]
    if not rows:
        return None
    rows.sort(key=lambda c: -(c["aggregate"]["objective_mean"] or 0))
    rows = rows[:limit]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(7, 0.35 * len(rows) + 2), 4.8), dpi=120)
    values = [np.array(c["replicas"], float) * 1e3 for c in rows]
    box = ax.boxplot(values, showmeans=True, patch_artist=True,
                     meanprops={"marker": "o", "markerfacecolor": "white"},
                     flierprops={"marker": "D", "markersize": 4})
    for patch, c in zip(box["boxes"], rows, strict=True):
        patch.set_facecolor("tab:orange" if c["winner"] else "0.85")
    ref = data["reference"]
    if ref and ref["aggregate"] and ref["aggregate"]["objective_mean"] is not None:
        mean = ref["aggregate"]["objective_mean"] * 1e3
        std = (ref["aggregate"]["objective_std"] or 0.0) * 1e3
        ax.axhline(mean, color="black", ls="--", lw=1, label=f"{ref['smiles']} mean")
        ax.axhspan(mean - std, mean + std, color="0.6", alpha=0.25, label="reference ± std")
    ax.set_xticks(range(1, len(rows) + 1),
                  [f"{c['iteration']}: {c['smiles']}" for c in rows], rotation=70,
                  fontsize=7, ha="right")
    ax.set_ylabel(_label(data))
    ax.set_title(f"replicas per candidate (winners orange; {len(rows)} best shown)\n"
                 f"{data['md_title']}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def plot_surrogate_vs_md(data: dict, path: Path) -> Path | None:
    """The surrogate's prediction against the MD mean, for candidates with both."""
    from polyhpc.analysis.plots import _pyplot

    pairs = [(c["surrogate_mean"], c["surrogate_std"] or 0.0,
              c["aggregate"]["objective_mean"] * 1e3, c["iteration"])
             for it in data["iterations"] for c in it["candidates"]
             if c["surrogate_mean"] is not None and c["aggregate"] and
             c["aggregate"]["source"] == "md" and (c["aggregate"]["objective_mean"] or 0) > 0]
    if not pairs or data["objective"] != "conductivity":
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5), dpi=120)
    log_mean, log_std, y, it = (np.array(v) for v in zip(*pairs, strict=True))
    x = 10 ** log_mean * 1e3  # mS/cm; the error bar is the predicted +-1 sigma (log10)
    errors = np.vstack([x - 10 ** (log_mean - log_std) * 1e3, 10 ** (log_mean + log_std) * 1e3 - x])
    for k in np.unique(it):
        ax.errorbar(x[it == k], y[it == k], xerr=errors[:, it == k], fmt="o", ms=4, capsize=2,
                    label=f"iteration {k}")
    low = min(x.min() - errors[0].max(), y.min()) * 0.8
    high = max(x.max() + errors[1].max(), y.max()) * 1.25
    low = max(low, 1e-4)
    ax.plot([low, high], [low, high], color="0.5", lw=1, ls="--", label="y = x")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("surrogate prediction ± 1σ [mS/cm]")
    ax.set_ylabel("MD replica mean [mS/cm]")
    ax.set_title(f"surrogate vs MD\n{data['md_title']}", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def structure_svg(smiles: str, size: tuple[int, int] = (220, 160)) -> str:
    """A 2D drawing of a repeat unit (RDKit) as SVG text."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    return drawer.GetDrawingText()


# ---------------------------------------------------------------------------- pages
def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and not math.isfinite(value)) \
        else f"{value:.{digits}g}"


def _winner_rows(data: dict) -> list[dict]:
    rows = []
    for it in data["iterations"]:
        ranked = sorted((c for c in it["candidates"] if c["winner"]),
                        key=lambda c: -c["aggregate"]["objective_mean"])
        for rank, c in enumerate(ranked, start=1):
            agg = c["aggregate"]
            rows.append({"id": f"{it['iteration']}-{rank}", "smiles": c["smiles"],
                         "mean": _mS(agg["objective_mean"]), "std": _mS(agg["objective_std"]),
                         "n": agg["n_finished"], "source": agg["source"],
                         "unstable": c["unstable"], "screen": c["screen"]})
    return rows


def _markdown(data: dict, numbers: dict, figures: dict[str, Path], winners: list[dict]) -> str:
    surrogate = " (surrogate predictions, not MD)" if data["source"] == "surrogate" else ""
    ref = numbers["reference"]
    lines = [f"# Campaign {data['name']}", "",
             f"Evaluator: {data['evaluator']}; objective: {data['objective']}{surrogate}; "
             f"training-set mean {_fmt(numbers['training_mean_mS_per_cm'])} mS/cm; reference "
             + (f"{ref['smiles']} {_fmt(ref['mean_mS_per_cm'])} ± {_fmt(ref['std_mS_per_cm'])} "
                f"mS/cm ({ref['n']} replicas, {ref['source']})" if ref else "not evaluated")
             + f"; class threshold {_fmt(data['threshold_mS_per_cm'])} mS/cm.", "",
             f"MD: profile {data['md']['protocol']}, force field "
             f"{data['md']['force_field'] or 'n/a'}."
             + ("" if not data["md"]["deviations"] else
                " Deviations from the paper's protocol: "
                + "; ".join(data["md"]["deviations"]) + "."), "",
             "| iteration | evaluated | failed | duplicates | draws/candidate | min | mean | "
             "max (mS/cm) | mean / training mean | beat the reference |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in numbers["iterations"]:
        lines.append(f"| {r['iteration']} | {r['evaluated']} | {r['failed']} | "
                     f"{r['duplicates']} | {_fmt(r['draws_per_candidate'])} | "
                     f"{_fmt(r['min_mS_per_cm'])} | {_fmt(r['mean_mS_per_cm'])} | "
                     f"{_fmt(r['max_mS_per_cm'])} | {_fmt(r['improvement_over_training'])} | "
                     f"{r['winners']} |")
    lines += ["", f"Compute: {numbers['cpu_hours']:.3g} CPU core-hours, "
              f"{numbers['gpu_hours']:.3g} GPU-hours (task wall time x resources).", ""]
    for name, path in figures.items():
        lines += [f"![{name}]({path.name})", ""]
    lines += ["## Polymers above the reference" + surrogate, "",
              "| ID | SMILES | structure | mean ± std (mS/cm) | replicas | unstable bonds "
              "(paper: N-O, O-O, S-O, S-N) | other stability-screen rules |",
              "|---|---|---|---|---|---|---|"]
    for w in winners:
        lines.append(f"| {w['id']} | `{w['smiles']}` | ![](structures/{w['id']}.svg) | "
                     f"{_fmt(w['mean'], 4)} ± {_fmt(w['std'], 3)} | {w['n']} | "
                     f"{', '.join(w['unstable']) or 'none'} | {', '.join(w['screen']) or 'none'} |")
    if not winners:
        lines.append("| - | none | | | | | |")
    lines += ["", "## Every candidate", "", "| iteration | SMILES | status | mean (mS/cm) | "
              "replicas | reason |", "|---|---|---|---|---|---|"]
    for it in data["iterations"]:
        for c in it["candidates"]:
            agg = c["aggregate"]
            lines.append(f"| {it['iteration']} | `{c['smiles']}` | {c['status']} | "
                         f"{_fmt(_mS(agg['objective_mean']) if agg else None)} | "
                         f"{len(c['replicas'])} | {(c['reason'] or '')[:120]} |")
    return "\n".join(lines) + "\n"


def _html(markdown_text: str, data: dict, figures: dict[str, Path], winners: list[dict]) -> str:
    """A self-contained page: the Markdown's content with figures and structures inline."""
    images = {p.name: base64.b64encode(p.read_bytes()).decode() for p in figures.values()}
    structures = {w["id"]: structure_svg(w["smiles"]) for w in winners}
    body = []
    in_table = False
    for line in markdown_text.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            rendered = []
            for cell in cells:
                if cell.startswith("![](structures/"):
                    key = cell[len("![](structures/"):-len(".svg)")]
                    rendered.append(structures.get(key, ""))
                else:
                    rendered.append(html.escape(cell.replace("`", "")))
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in rendered) + "</tr>")
            continue
        if in_table:
            body.append("</table>")
            in_table = False
        if line.startswith("!["):
            name = line[line.index("(") + 1:-1]
            body.append(f'<img alt="{html.escape(name)}" '
                        f'src="data:image/png;base64,{images[name]}">')
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
             "padding:3px 8px;font-size:13px}img{max-width:100%}")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>campaign "
            f"{html.escape(str(data['name']))}</title><style>{style}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(ledger: Ledger, out: Path) -> dict:
    """Figures, ``report.md`` and ``report.html`` in ``out``; returns the summary numbers."""
    from polyhpc.fileio import write_text_atomic

    out = Path(out)
    (out / "structures").mkdir(parents=True, exist_ok=True)
    data = collect(ledger)
    numbers = summary(data)
    figures = {"distribution": plot_distribution(data, out / "distribution.png")}
    for name, plot in (("replicas", plot_replicas), ("surrogate-vs-md", plot_surrogate_vs_md)):
        path = plot(data, out / f"{name}.png")
        if path is not None:
            figures[name] = path
    winners = _winner_rows(data)
    for w in winners:
        (out / "structures" / f"{w['id']}.svg").write_text(structure_svg(w["smiles"]))
    text = _markdown(data, numbers, figures, winners)
    write_text_atomic(out / "report.md", text)
    write_text_atomic(out / "report.html", _html(text, data, figures, winners))
    return {**numbers, "winners": winners, "figures": {k: str(v) for k, v in figures.items()},
            "markdown": str(out / "report.md"), "html": str(out / "report.html")}
