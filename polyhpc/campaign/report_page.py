"""The report's pages: one page model, rendered to Markdown and to self-contained HTML.

:func:`page_model` turns the report's data into sections of paragraphs,
tables and figures; two Jinja2 templates render that same model, so the
Markdown and the HTML can never say different things. Every text a user
could have chosen (a campaign name, a SMILES) is escaped for the format it is
written into: Markdown cells cannot break their table, HTML is autoescaped.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path

import jinja2

MARKDOWN = """\
# {{ page.title | md }}

{% for line in page.banner %}> {{ line | md }}
>
{% endfor %}

{% for section in page.sections %}
## {{ section.title | md }}

{% for paragraph in section.paragraphs %}{{ paragraph | md }}

{% endfor %}
{% for figure in section.figures %}![{{ figure.name }}]({{ figure.file }})

{% endfor %}
{% for table in section.tables %}
| {% for h in table.headers %}{{ h | cell }} | {% endfor %}

|{% for h in table.headers %}---|{% endfor %}

{% for row in table.rows %}| {% for c in row %}{% if c.file %}![]({{ c.file }}){% elif c.code %}\
{{ c.text | code }}{% else %}{{ c.text | cell }}{% endif %} | {% endfor %}

{% endfor %}

{% endfor %}
{% endfor %}
---
{% for line in page.footer %}- {{ line | md }}
{% endfor %}
"""

HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ page.title }}</title>
<style>
body{font-family:sans-serif;max-width:1150px;margin:2em auto;line-height:1.45;color:#222}
.banner{border:2px solid #D55E00;background:#fff4ec;padding:0.6em 1em;margin:1em 0}
.banner p{margin:0.35em 0}
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;vertical-align:middle}
th{background:#f3f3f3}
img{max-width:100%}
footer{color:#555;font-size:12px;border-top:1px solid #ccc;margin-top:2em;padding-top:0.5em}
code{font-size:13px}
</style></head><body>
<h1>{{ page.title }}</h1>
<div class="banner">{% for line in page.banner %}<p>{{ line }}</p>{% endfor %}</div>
{% for section in page.sections %}
<h2>{{ section.title }}</h2>
{% for paragraph in section.paragraphs %}<p>{{ paragraph }}</p>
{% endfor %}
{% for figure in section.figures %}<figure>{% if figure.uri %}<img alt="{{ figure.name }}" \
src="{{ figure.uri }}">{% else %}<a href="{{ figure.file }}">{{ figure.name }} ({{ figure.file }})\
</a>{% endif %}</figure>
{% endfor %}
{% for table in section.tables %}<table>
<tr>{% for h in table.headers %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in table.rows %}<tr>{% for c in row %}<td>{% if c.svg %}{{ c.svg | safe }}\
{% elif c.code %}<code>{{ c.text }}</code>{% else %}{{ c.text }}{% endif %}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}
{% endfor %}
<footer>{% for line in page.footer %}{{ line }}<br>{% endfor %}</footer>
</body></html>
"""

#: Figure formats a page shows inline (a PDF figure is linked instead).
_MIME = {".png": "image/png", ".svg": "image/svg+xml"}


def _one_line(text) -> str:
    return " ".join(str(text).split())


def _markdown_text(text) -> str:
    """A paragraph that stays one paragraph: no newlines, no HTML, no heading marks."""
    text = _one_line(text).replace("<", "&lt;").replace(">", "&gt;")
    return "\\" + text if text and text[0] in "#>|-*+=" else text


def _markdown_cell(text) -> str:
    return _markdown_text(text).replace("|", "\\|")


def _markdown_code(text) -> str:
    """Code in a table cell: backticks keep ``*`` and ``_`` literal; ``|`` still escaped."""
    return "`" + _one_line(text).replace("`", "'").replace("|", "\\|") + "`"


def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=html,
                             keep_trailing_newline=True, trim_blocks=True)
    env.filters["md"] = _markdown_text
    env.filters["cell"] = _markdown_cell
    env.filters["code"] = _markdown_code
    return env


def structure_svg(smiles: str, size: tuple[int, int] = (300, 210)) -> str:
    """A 2D drawing of a repeat unit (RDKit) as SVG text, its ``*`` ends drawn large."""
    from rdkit import Chem
    from rdkit.Chem.Draw import rdMolDraw2D

    mol = Chem.MolFromSmiles(smiles)
    drawer = rdMolDraw2D.MolDraw2DSVG(*size)
    options = drawer.drawOptions()
    options.minFontSize = 16
    options.dummiesAreAttachments = False  # draw the ends as '*', not as wavy attachment lines
    drawer.DrawMolecule(mol)
    drawer.FinishDrawing()
    text = drawer.GetDrawingText()
    return text[text.index("<svg"):]  # without the XML declaration, for inline use


def _version(value) -> str:
    """``22 Jul 2025 - Update 4`` of a LAMMPS header, other versions as they are."""
    first = str(value).splitlines()[0] if str(value) else "?"
    return first.split(" - ", 1)[1].strip(" ()") if " - " in first else first[:40]


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}"


def _cell(text="", **extra) -> dict:
    return {"text": text, "svg": None, "file": None, "code": False, **extra}


def _summary_table(data: dict, numbers: dict) -> dict:
    source = data["source"]
    results = source is not None
    rows = []
    for r in numbers["iterations"]:
        zeros = f" (+{r['zeros']} at 0)" if r["zeros"] else ""
        rows.append([_cell(str(r["iteration"])), _cell(str(r["evaluated"])),
                     _cell(str(r["incomplete"])), _cell(str(r["failed"])),
                     _cell(str(r["duplicates"])), _cell(str(r["rejected_draws"])),
                     _cell(_fmt(r["draws_per_candidate"])),
                     _cell((_fmt(r["min_mS_per_cm"]) + zeros) if results else "not a result"),
                     _cell(_fmt(r["mean_mS_per_cm"]) if results else "not a result"),
                     _cell(_fmt(r["max_mS_per_cm"]) if results else "not a result"),
                     _cell(_fmt(r["improvement_over_training"]) if results else "n/a"),
                     _cell(str(r["winners"]) if results else "n/a")])
    where = {"md": "MD", "surrogate": "surrogate"}.get(source, "none")
    return {"headers": ["iteration", "evaluated", "incomplete", "failed",
                        "identity duplicates (paper's count)", "rejected draws",
                        "draws per candidate", f"min [mS/cm] ({where})",
                        f"mean [mS/cm] ({where})", f"max [mS/cm] ({where})",
                        "mean / training mean (crosses force fields)" if source == "md" else
                        "mean / training mean", "above the reference"],
            "rows": rows}


def _winner_table(winners: list[dict], structures: dict[str, str], html: bool) -> dict:
    rows = []
    for w in winners:
        picture = _cell(svg=structures[w["id"]]) if html else \
            _cell(file=f"structures/{w['id']}.svg")
        rows.append([_cell(w["id"]), _cell(w["smiles"], code=True), picture,
                     _cell(f"{_fmt(w['mean'], 4)} ± {_fmt(w['std'])}"), _cell(_fmt(w["se"])),
                     _cell(f"{_fmt(w['p_above_reference'], 2)} ({w['p_method']})"),
                     _cell(str(w["n"])), _cell(", ".join(w["unstable"]) or "none"),
                     _cell(", ".join(w["screen"]) or "none")])
    if not rows:
        rows.append([_cell("-"), _cell("none")] + [_cell("") for _ in range(7)])
    return {"headers": ["ID", "SMILES", "structure", "mean ± std [mS/cm]", "standard error "
                        "[mS/cm]", "P(above the reference)", "replicas",
                        "unstable bonds (paper: N-O, O-O, S-O, S-N)",
                        "other stability-screen rules"], "rows": rows}


def _candidate_table(data: dict) -> dict:
    rows = []
    md_results = data["sources"]["md_results"]
    for it in data["iterations"]:
        for c in it["candidates"]:
            agg = c["aggregate"]
            md = c["md"]
            md_text = "-" if md is None or md["objective_mean"] is None else (
                f"{md['objective_mean'] * 1e3:.3g}" + ("" if md_results else " (pipeline check)"))
            status = c["status"]
            if status == "evaluated" and data["source"] != "md" and md is not None:
                status = "MD ran (a pipeline check)"
            rows.append([_cell(str(it["iteration"])), _cell(c["display"], code=True),
                         _cell(status),
                         _cell(_fmt(agg["objective_mean"] * 1e3) if agg and
                               agg["objective_mean"] is not None else "-"),
                         _cell(_fmt(10 ** c["surrogate_mean"] * 1e3)
                               if c["surrogate_mean"] is not None else "-"),
                         _cell(md_text),
                         _cell(f"{len(c['replicas'])}"), _cell((c["reason"] or "")[:160])])
    where = {"md": "MD", "surrogate": "surrogate"}.get(data["source"], "none")
    return {"headers": ["iteration", "SMILES", "status", f"result [mS/cm] ({where})",
                        "surrogate prediction [mS/cm]", "MD replica mean [mS/cm]",
                        "MD replicas finished", "reason"], "rows": rows}


def _adaptive_section(adaptive: dict) -> dict:
    """Adaptive MD: its statistical model, the MD it used, and every stopping decision."""
    policy, usage = adaptive["policy"], adaptive["usage"]
    def usage_row(label: str, r: dict) -> list[dict]:
        share = f"{r['fraction']:.0%}" if r["fraction"] is not None else "n/a"
        return [_cell(label), _cell(_fmt(r["used_ns"], 4)), _cell(_fmt(r["fixed_ns"], 4)),
                _cell(share)]

    rows = [usage_row(str(r["iteration"]), r) for r in usage["iterations"]]
    rows.append(usage_row("total", usage))
    stops = [[_cell(d["smiles"], code=True), _cell(str(d["iteration"])), _cell(str(d["round"])),
              _cell(str(d["n_replicas"])), _cell(_fmt(d["production_ps"] / 1000, 3)),
              _cell(f"{_fmt(d['statistic'])} vs {_fmt(d['threshold'])}"),
              _cell(d["outcome"]), _cell(_fmt(d["md_ns_saved"], 3))] for d in adaptive["stops"]]
    if not stops:
        stops = [[_cell("none")] + [_cell("") for _ in range(7)]]
    return {"title": "Adaptive MD (replica racing, production early stop)", "figures": [],
            "paragraphs": [
                "Statistical model: a replica's log10 conductivity is normal around its "
                "polymer's mean with one spread for every polymer, pooled over the campaign "
                "and frozen per iteration; a one-sided t statistic against the reference (PEO, "
                "which always gets all its replicas) is held against a sequential bound "
                "calibrated so that a candidate gets a wrong early decision with probability "
                f"at most {policy['error_rate']} over all its looks (polyhpc.campaign.racing). "
                f"Rounds: {policy['first_round']} replica(s) first, then one more at a time; "
                f"production checkpoints every {policy['check_every_ps']:g} ps from "
                f"{policy['min_production_ps']:g} ps on, used only for 'below' (a partial "
                "production over-estimates the conductivity of sub-diffusive ions). "
                f"Decisions allowed: {', '.join(policy['decide'])}.",
                f"{adaptive['looks']} look(s) recorded in the ledger; the stopping ones below."],
            "tables": [
                {"headers": ["iteration", "MD used [ns]", "fixed protocol [ns]", "fraction"],
                 "rows": rows},
                {"headers": ["SMILES", "iteration", "round", "replicas", "production [ns]",
                             "t vs bound", "decision", "MD saved [ns]"], "rows": stops}]}


def page_model(data: dict, numbers: dict, figures: dict[str, Path], winners: list[dict],
               html: bool, structures: dict[str, str] | None = None) -> dict:
    """The report as sections of paragraphs, figures and tables (for either format)."""
    from polyhpc.campaign.report import PAPER_NOTE

    md = data["md"]
    source = data["source"]
    where = {"md": "MD", "surrogate": "surrogate predictions"}.get(source)
    threshold = data["threshold_mS_per_cm"]
    figure_list = [{"name": name, "file": path.name,
                    "uri": f"data:{_MIME[path.suffix]};base64,"
                           + base64.b64encode(path.read_bytes()).decode()
                    if html and path.suffix in _MIME else ""}
                   for name, path in figures.items()]
    sections = [{
        "title": "Summary", "figures": [], "tables": [_summary_table(data, numbers)],
        "paragraphs": [
            f"Evaluator: {data['evaluator']}; objective: {data['objective']}; results from: "
            f"{where or 'nothing (a pipeline check)'}. Training-set mean "
            f"{_fmt(numbers['training_mean_mS_per_cm'])} mS/cm (HTP-MD, PCFF+); class "
            f"threshold {_fmt(threshold)} mS/cm.",
            "Rules: means are over every evaluated candidate, zero conductivities included; "
            "the minimum is over positive values, with the zeros counted beside it (the paper "
            "ignores polyethylene's 0 for its minimum). Identity duplicates are draws that "
            "are the same polymer as a training unit or an earlier draw under another "
            "spelling (the paper's post-processing count); polyhpc keeps sampling until it "
            "has the configured number of distinct candidates, so no MD is spent on them. "
            "A candidate needs its configured minimum of finished replicas to count as "
            "evaluated; with fewer it is incomplete and never fed back.",
            f"Compute: {numbers['cpu_hours']:.3g} CPU core-hours, "
            f"{numbers['gpu_hours']:.3g} GPU-hours (task wall time x resources)."]}]
    sections.append({"title": "Figures", "figures": figure_list, "tables": [],
                     "paragraphs": ["Fig. 3 (replicas) shows each candidate's mean ± sample "
                                    "standard deviation with every replica as a dot."]})
    sections.append({
        "title": f"Polymers above the reference ({where or 'none: no results'})",
        "figures": [], "tables": [_winner_table(winners, structures or {}, html)],
        "paragraphs": [
            "Standard error: std / sqrt(replicas). P(above the reference): the posterior "
            "probability that the candidate's true mean exceeds the reference's (MD: Welch's t "
            "on the replica values; surrogate: the predicted log10 normals).",
            "Unstable bonds are those the paper itself names (section 4.2: N-O, O-O, S-O, S-N, "
            "also across the junction of two units), found by polyhpc's stability screen. "
            + PAPER_NOTE]})
    sections.append({"title": "Every candidate", "figures": [], "paragraphs": [],
                     "tables": [_candidate_table(data)]})
    if data.get("adaptive"):
        sections.append(_adaptive_section(data["adaptive"]))
    campaign_deviations = data["config"].get("deviations") or []
    sections.append({
        "title": "Deviations from the paper", "figures": [], "tables": [],
        "paragraphs": [f"MD profile {md['protocol']}, force field {md['force_field']}."
                       + ("" if not md["deviations"] else " The profile's deviations from "
                          "the paper's protocol: " + "; ".join(md["deviations"]) + "."),
                       "The campaign's declared deviations from the paper: "
                       + ("; ".join(campaign_deviations) if campaign_deviations else "none")
                       + "."]})
    provenance = data["provenance"]
    versions = data["versions"]
    footer = [f"polyhpc {versions.get('polyhpc', '?')}; written {provenance['written_at']}",
              f"ledger {provenance['ledger']}; campaign identity sha256 "
              f"{str(provenance['config_hash'])[:16]}",
              f"MD protocol {md['protocol']} sha256 "
              f"{str(provenance['md_protocol_sha256'])[:16]}; force-field file "
              f"{provenance['force_field'].get('file')} sha256 "
              f"{str(provenance['force_field'].get('sha256'))[:16]}",
              "versions: " + ", ".join(f"{k} {_version(v)}" for k, v in versions.items()
                                       if k != "polyhpc")]
    return {"title": f"Campaign {_one_line(data['name'])}", "banner": data["banner"],
            "sections": sections, "footer": footer}


def render_pages(data: dict, numbers: dict, figures: dict[str, Path],
                 winners: list[dict]) -> tuple[str, str]:
    """``report.md`` and ``report.html`` text, from one page model."""
    structures = {w["id"]: structure_svg(w["raw_smiles"]) for w in winners}
    markdown = _environment(False).from_string(MARKDOWN).render(
        page=page_model(data, numbers, figures, winners, html=False))
    html = _environment(True).from_string(HTML).render(
        page=page_model(data, numbers, figures, winners, html=True, structures=structures))
    return markdown, html
