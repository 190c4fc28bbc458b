"""The campaign report: the paper's figures and numbers, from the ledger alone.

``polyhpc campaign report DIR`` writes into ``DIR/report/``:

- ``distribution.<fmt>`` (paper Fig. 2): the objective of the training set and
  of each iteration's candidates, their means, and the reference;
- ``replicas.<fmt>`` (paper Fig. 3): per-candidate replica values with mean ±
  std against the reference's mean ± std band;
- ``surrogate-vs-md.<fmt>``: the surrogate's prediction against MD (when MD
  gives results);
- ``report.md`` and a self-contained ``report.html``, both rendered from the
  same data (:mod:`polyhpc.campaign.report_page`): a banner saying what the run
  can and cannot tell, the summary numbers per iteration, the polymers above
  the reference (paper Fig. 4) with their standard error and the probability
  that they beat it, the bonds the paper calls unstable, every candidate, and
  a provenance footer.

Every number says where it comes from (MD with its profile and force field, or
the surrogate); an MD profile too short to resolve transport gives no results
(:mod:`polyhpc.campaign.fidelity`): its numbers are shown as a pipeline check.

Rules stated in the report: means are over every evaluated candidate,
zero conductivities included; the minimum is over positive values, the zeros
counted beside it (the paper ignores polyethylene's 0 for its minimum).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from polyhpc.campaign.fidelity import campaign_sources
from polyhpc.campaign.store import Ledger

#: Stability-screen rules for the bonds the paper itself calls unstable (section 4.2).
PAPER_UNSTABLE_BONDS = {"peroxide": "O-O", "n_o_single": "N-O", "s_o_single": "S-O",
                        "s_n_single": "S-N"}
#: HTP-MD's force field (the training labels, the class threshold, Fig. 2's training set).
TRAINING_FORCE_FIELD = "PCFF+"
#: Unit ionic charges in the conductivity (HTP-MD's convention), 0.7 in the dynamics.
CHARGE_NOTE = ("Conductivities use unit ionic charges (HTP-MD's convention, as the training "
               "data) although the dynamics use charges scaled by 0.7; with the simulated "
               "charges they would be 0.49x lower.")
#: The paper's Fig. 4 winner that has none of the bonds the paper calls unstable.
PAPER_NOTE = ("For reference: of the paper's own Fig. 4 winners, 2-6 (*CCOCCCN*) has none "
              "of the bonds the paper calls unstable, although the paper lists it among them.")
FORMATS = ("png", "svg", "pdf")


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


def display_smiles(smiles: str) -> str:
    """A unit as a person reads it: ``*`` end markers, never ``[Cu]``/``[Au]``."""
    from polyhpc.chem.smiles import normalize_end_markers

    try:
        return normalize_end_markers(smiles)
    except Exception:  # noqa: BLE001 - a label must never fail the report
        return smiles


def _mS(value):
    return None if value is None else value * 1e3


def probability_above(candidate: dict, reference: dict, source: str) -> tuple[float | None,
                                                                              str]:
    """P(candidate's true mean > reference's) and the method that gives it.

    MD: Welch's t on the replica values (the posterior of the difference of means under
    flat priors is a t with the Welch-Satterthwaite degrees of freedom). Surrogate: the
    predicted log10 normals, independent, Φ((m_c - m_r) / sqrt(s_c² + s_r²)).
    """
    from scipy import stats

    if source == "surrogate":
        mc, sc = candidate.get("surrogate_mean"), candidate.get("surrogate_std")
        mr, sr = reference.get("surrogate_mean"), reference.get("surrogate_std")
        if None in (mc, sc, mr, sr) or sc + sr <= 0:
            return None, "surrogate normals"
        return float(stats.norm.cdf((mc - mr) / math.hypot(sc, sr))), "surrogate normals"
    a = np.array(candidate["replicas"], float)
    b = np.array(reference["replicas"], float)
    if len(a) < 2 or len(b) < 2:
        return None, "Welch t"
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return (1.0 if a.mean() > b.mean() else 0.0), "Welch t"
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(stats.t.cdf((a.mean() - b.mean()) / math.sqrt(va + vb), dof)), "Welch t"


def collect(ledger: Ledger) -> dict:
    """Everything the report shows, as plain data (objective values in S/cm)."""
    config = ledger.meta("config") or {}
    identity = ledger.meta("identity") or {}
    sources = campaign_sources(ledger)
    source = sources["source"]
    training = (ledger.meta("training_set") or {}).get("conductivity_S_per_cm", [])
    reference = next(iter(ledger.candidates(role="reference")), None)
    winners = {(f["iteration"], f["candidate_id"]) for f in ledger.feedback()
               if f["role"] == "winner"}

    def describe(c: dict) -> dict:
        md = ledger.aggregate(c["id"], "md")
        surrogate = ledger.aggregate(c["id"], "surrogate")
        shown = (md if source == "md" else surrogate if source == "surrogate" else None)
        replicas = [r["objective"] for r in ledger.results(c["id"], "md")]
        unstable, screen = unstable_bonds(c["smiles"])
        return {**c, "display": display_smiles(c["smiles"]), "aggregate": shown, "md": md,
                "surrogate": surrogate, "replicas": replicas,
                "winner": (c["iteration"], c["id"]) in winners,
                "unstable": unstable, "screen": screen}

    iterations = []
    for row in ledger.iterations():
        candidates = [describe(c) for c in ledger.candidates(row["iteration"], "candidate")]
        values = [c["aggregate"]["objective_mean"] for c in candidates
                  if c["aggregate"] and c["aggregate"]["status"] == "ok"
                  and c["aggregate"]["objective_mean"] is not None]
        rejected = row["rejected"] or {}
        iterations.append({
            "iteration": row["iteration"], "status": row["status"], "draws": row["draws"],
            "draws_per_candidate": row["draws_per_candidate"], "rejected": rejected,
            # the paper's duplicates: same polymer, other string (exact copies are skipped)
            "duplicates": sum(v for k, v in rejected.items() if "same polymer" in k),
            "rejected_draws": sum(rejected.values()),
            "candidates": candidates, "values": values,
            "incomplete": sum(c["status"] == "incomplete" for c in candidates),
            "failed": sum(c["status"] in ("failed", "unbuildable") for c in candidates)})
    hours = {"cpu": 0.0, "gpu": 0.0}
    for t in ledger.tasks():
        if t["started_at"] and t["ended_at"]:
            wall_h = (t["ended_at"] - t["started_at"]) / 3600.0
            hours["cpu"] += wall_h * (t["cores"] or 1)
            hours["gpu"] += wall_h * (t["gpus"] or 0)
    md = _md_protocol(identity)
    adaptive = None
    if (config.get("md") or {}).get("adaptive"):
        from polyhpc.campaign.adaptive import md_usage

        names = {c["id"]: display_smiles(c["smiles"]) for c in ledger.candidates()}
        adaptive = {"policy": config["md"]["adaptive"], "usage": md_usage(ledger),
                    "looks": len(ledger.decisions()),
                    "stops": [{**d, "smiles": names.get(d["candidate_id"], "?")}
                              for d in ledger.decisions() if d["outcome"] != "continue"]}
    return {"name": config.get("name"), "adaptive": adaptive,
            "objective": config.get("objective", "conductivity"),
            "md": md, "sources": sources, "source": source, "evaluator": sources["evaluator"],
            "config": config, "training": np.asarray(training, float),
            "iterations": iterations,
            "reference": describe(reference) if reference else None, "hours": hours,
            "versions": ledger.meta("versions") or {},
            "threshold_mS_per_cm": ledger.meta("threshold_mS_per_cm"),
            "provenance": {"ledger": str(ledger.path), "config_hash": ledger.meta("config_hash"),
                           "written_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                           "md_protocol_sha256": identity.get("md_protocol", {}).get("sha256"),
                           "force_field": identity.get("force_field", {})}}


def _md_protocol(identity: dict) -> dict:
    """The MD protocol and force field the campaign's MD ran with (from its identity)."""
    protocol = identity.get("md_protocol", {})
    settings = protocol.get("settings", {})
    frc = identity.get("force_field", {})
    public = frc.get("file") == "pcff.frc"
    return {"protocol": protocol.get("name", "n/a"),
            "deviations": list(settings.get("deviations", [])),
            "production_ps": settings.get("production_ps"),
            "force_field": f"public PCFF ({frc.get('file')})" if public else
            f"user force field ({frc.get('file', 'n/a')})",
            "same_as_training": False}


def _stats(values: list[float]) -> dict:
    """Mean over all values (zeros included); minimum over positive ones, zeros counted."""
    if not values:
        return {"mean": None, "min": None, "max": None, "zeros": 0}
    positive = [v for v in values if v > 0]
    return {"mean": float(np.mean(values)), "min": min(positive) if positive else None,
            "max": max(values), "zeros": len(values) - len(positive)}


def summary(data: dict) -> dict:
    """The paper's summary numbers (section 4.1), in mS/cm."""
    training_mean = float(data["training"].mean()) if len(data["training"]) else None
    rows = []
    for it in data["iterations"]:
        s = _stats(it["values"])
        rows.append({
            "iteration": it["iteration"], "evaluated": len(it["values"]),
            "incomplete": it["incomplete"], "failed": it["failed"],
            "duplicates": it["duplicates"], "rejected_draws": it["rejected_draws"],
            "draws_per_candidate": it["draws_per_candidate"],
            "min_mS_per_cm": _mS(s["min"]), "zeros": s["zeros"],
            "mean_mS_per_cm": _mS(s["mean"]), "max_mS_per_cm": _mS(s["max"]),
            "improvement_over_training": s["mean"] / training_mean
            if s["mean"] is not None and training_mean else None,
            "winners": sum(c["winner"] for c in it["candidates"])})
    ref = data["reference"]
    agg = ref["aggregate"] if ref else None
    return {"training_mean_mS_per_cm": _mS(training_mean),
            "reference": None if agg is None else {
                "smiles": ref["display"], "mean_mS_per_cm": _mS(agg["objective_mean"]),
                "std_mS_per_cm": _mS(agg["objective_std"]), "n": agg["n_finished"],
                "status": agg["status"], "source": agg["source"]},
            "iterations": rows, "cpu_hours": data["hours"]["cpu"],
            "gpu_hours": data["hours"]["gpu"], "source": data["source"],
            "units": {"training_mean_mS_per_cm": "mS/cm", "mean_mS_per_cm": "mS/cm",
                      "std_mS_per_cm": "mS/cm", "min_mS_per_cm": "mS/cm",
                      "max_mS_per_cm": "mS/cm", "improvement_over_training": "1",
                      "cpu_hours": "core-hours", "gpu_hours": "GPU-hours",
                      "draws_per_candidate": "draws", "p_above_reference": "1"}}


def winner_rows(data: dict) -> list[dict]:
    """Paper Fig. 4: the polymers above the reference, with SE and P(> reference)."""
    rows = []
    reference = data["reference"]
    for it in data["iterations"]:
        ranked = sorted((c for c in it["candidates"] if c["winner"] and c["aggregate"]),
                        key=lambda c: -c["aggregate"]["objective_mean"])
        for rank, c in enumerate(ranked, start=1):
            agg = c["aggregate"]
            n = agg["n_finished"]
            se = agg["objective_std"] / math.sqrt(n) if agg["objective_std"] and n else None
            p, method = probability_above(c, reference, data["source"]) if reference \
                else (None, "")
            rows.append({"id": f"{it['iteration']}-{rank}", "smiles": c["display"],
                         "raw_smiles": c["smiles"], "mean": _mS(agg["objective_mean"]),
                         "std": _mS(agg["objective_std"]), "se": _mS(se), "n": n,
                         "p_above_reference": p, "p_method": method,
                         "source": agg["source"], "unstable": c["unstable"],
                         "screen": c["screen"]})
    return rows


def reference_text(data: dict) -> str:
    """The reference as a result: mean ± std and its source, or why it has none."""
    ref = data["reference"]
    if ref is None:
        return "reference not evaluated yet"
    name = ref["display"]
    if data["source"] is None:
        return (f"reference {name}: unresolvable by the MD profile {data['md']['protocol']!r} "
                "(a pipeline check)")
    agg = ref["aggregate"]
    if agg is None or agg["objective_mean"] is None:
        return f"reference {name}: no {data['source']} result"
    if agg["objective_mean"] <= 0:
        return (f"reference {name}: unresolvable (its {data['source']} conductivity is 0: no "
                "ion moved measurably); nothing is compared with it")
    where = (f"MD, {agg['n_finished']} replicas" if agg["source"] == "md"
             else "surrogate prediction")
    std = f" ± {agg['objective_std'] * 1e3:.3g}" if agg["objective_std"] else ""
    return f"reference {name}: {agg['objective_mean'] * 1e3:.3g}{std} mS/cm ({where})"


def banner(data: dict) -> list[str]:
    """What the run can and cannot tell, first in the report and in the terminal."""
    md, sources = data["md"], data["sources"]
    source = data["source"]
    lines = []
    if source == "md":
        lines.append(f"Results: MD with the profile {md['protocol']!r} "
                     f"({(md['production_ps'] or 0) / 1000:g} ns of production"
                     + (f", {len(md['deviations'])} declared deviation(s) from the paper"
                        if md["deviations"] else "")
                     + f"), force field {md['force_field']}.")
    elif source == "surrogate":
        lines.append("Results: surrogate predictions (trained on HTP-MD, force field "
                     f"{TRAINING_FORCE_FIELD}), not MD: every value is a prediction with its "
                     "1-sigma, and nothing of it was simulated.")
    else:
        lines.append("No results: this run checks the pipeline.")
    if sources["evaluator"] != "surrogate" and not sources["md_results"]:
        lines.append(f"MD is a pipeline check: {sources['md_reason']}. Its values are shown "
                     "apart, marked as not results, and kept out of winners, feedback and "
                     "every comparison.")
    lines.append(reference_text(data) + ".")
    if source == "md":
        lines.append(f"Force field: the candidates and the reference ran with {md['force_field']}"
                     f"; the training data (HTP-MD) used {TRAINING_FORCE_FIELD}, so every "
                     "comparison with the training set crosses force fields; the reference, "
                     "run here the same way, is the like-for-like yardstick.")
        lines.append(CHARGE_NOTE)
    return lines


def write_report(ledger: Ledger, out: Path, fmt: str = "png", dpi: int = 150) -> dict:
    """Figures, ``report.md`` and ``report.html`` in ``out``; returns the summary numbers.

    Raises
    ------
    polyhpc.errors.ConfigError
        ``out`` cannot be written (a read-only campaign folder: give another ``--out``).
    """
    from polyhpc.campaign import figures
    from polyhpc.campaign.report_page import render_pages, structure_svg
    from polyhpc.errors import ConfigError
    from polyhpc.fileio import write_text_atomic

    out = Path(out)
    try:
        (out / "structures").mkdir(parents=True, exist_ok=True)
        probe = out / ".polyhpc-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write the report into {out} ({exc.strerror}): give another "
                          "--out") from None
    data = collect(ledger)
    data["banner"] = banner(data)
    numbers = summary(data)
    figure_paths = {"distribution": figures.plot_distribution(
        data, out / f"distribution.{fmt}", dpi)}
    for name, plot in (("replicas", figures.plot_replicas),
                       ("surrogate-vs-md", figures.plot_surrogate_vs_md)):
        path = plot(data, out / f"{name}.{fmt}", dpi)
        if path is not None:
            figure_paths[name] = path
    winners = winner_rows(data)
    for w in winners:
        (out / "structures" / f"{w['id']}.svg").write_text(structure_svg(w["raw_smiles"]))
    markdown, page = render_pages(data, numbers, figure_paths, winners)
    write_text_atomic(out / "report.md", markdown)
    write_text_atomic(out / "report.html", page)
    return {**numbers, "banner": data["banner"], "winners": winners,
            "figures": {k: str(v) for k, v in figure_paths.items()},
            "markdown": str(out / "report.md"), "html": str(out / "report.html")}
