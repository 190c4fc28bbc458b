"""``polyhpc smiles``: repeat-unit chemistry."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from polyhpc.cli.base import _bar, _emit, _read_smiles, main


# ------------------------------------------------------------------------- smiles
@main.group()
def smiles() -> None:
    """Repeat-unit chemistry: validate, canonicalize, polymerize."""


_smiles_args = [
    click.argument("units", nargs=-1),
    click.option("--file", type=click.Path(exists=True, dir_okay=False, allow_dash=True,
                                           path_type=Path),
                 help="Read units from a file, one per line (first CSV column); - reads "
                      "standard input."),
    click.option("--json", "as_json", is_flag=True,
                 help="Machine-readable output: {rows, units}."),
]


def _with_smiles_args(func):
    for decorator in reversed(_smiles_args):
        func = decorator(func)
    return func


@smiles.command("check", examples=(
    "polyhpc smiles check '*CCO*' '*CCO'             # a valid unit and one with one end",
    "polyhpc smiles check --stability --file candidates.csv   # also the stability screen",
    "cut -d, -f1 candidates.csv | polyhpc smiles check --file -   # from a pipe",
))
@_with_smiles_args
@click.option("--stability", is_flag=True,
              help="Also apply the stability and synthesizability screen and name the rules "
                   "each valid unit breaks (polyhpc smiles rules lists them).")
@click.option("--sa-threshold", type=click.FloatRange(min=1, max=10), default=5.0,
              show_default=True, help="With --stability: SA scores at or above it fail.")
def smiles_check(units, file, as_json, stability, sa_threshold) -> None:
    """Validate repeat units; print the reason for each rejection.

    Exit status: 0 when every unit is valid (and, with --stability, breaks
    no rule); 1 when any is not; 2 for a usage error.
    """
    from polyhpc.chem import check_repeat_unit

    results = [check_repeat_unit(unit) for unit in _read_smiles(units, file)]
    rows = [r.to_dict() for r in results]
    lines = [f"{'ok' if r.valid else 'INVALID':<8} {r.smiles}"
             + ("" if r.valid else f"  ({r.reason})") for r in results]
    failed = not all(r.valid for r in results)
    if stability:
        from polyhpc.chem.stability import StabilityScreen

        screen = StabilityScreen(sa_threshold=sa_threshold)
        for i, result in enumerate(results):
            if not result.valid:
                continue
            check = screen.check(result.smiles)
            rows[i].update(check.to_dict())
            failed |= not check.stable
            lines[i] = (f"{'ok' if check.stable else 'UNSTABLE':<8} {result.smiles}  "
                        f"(SA {check.sa_score:.2f}"
                        + (f"; breaks {', '.join(check.broken)})" if check.broken else ")"))
    _emit(rows, as_json, "\n".join(lines), units={"sa_score": "1"})
    if failed:
        sys.exit(1)


@smiles.command("rules", examples=(
    "polyhpc smiles rules           # the stability screen's rules with their citations",
    "polyhpc smiles rules --json    # the same as {rows, units}",
))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output: {rows, units}.")
def smiles_rules(as_json) -> None:
    """The stability screen's rules: name, SMARTS, reason and citation."""
    from polyhpc.chem.stability import RULES, SA_CITATION, SA_REASON, SA_RULE

    rows = [rule.to_dict() for rule in RULES]
    rows.append({"name": SA_RULE, "smarts": None, "reason": SA_REASON,
                 "citation": SA_CITATION})
    text = "\n".join(f"{r['name']:<21} {r['smarts'] or '-'}\n{'':<21} {r['reason']}\n"
                     f"{'':<21} {r['citation']}" for r in rows)
    _emit(rows, as_json, text, units={})


@smiles.command("canonical", examples=(
    "polyhpc smiles canonical '*OCCOCC*' '*COC*'   # the same chain: one canonical SMILES",
    "polyhpc smiles canonical --file units.txt --json",
    "cut -d, -f1 results.csv | polyhpc smiles canonical --file -",
))
@_with_smiles_args
def smiles_canonical(units, file, as_json) -> None:
    """Canonical polymer identity of each unit.

    Units describing the same chain (translated, reversed, repeated) print the
    same canonical SMILES. Invalid units print their reason.

    Exit status: 0 when every unit is valid; 1 when any is invalid (all
    units are still printed, invalid ones with canonical null); 2 for a
    usage error.
    """
    from polyhpc.chem import canonical_repeat_unit, check_repeat_unit

    items = _read_smiles(units, file)
    rows = []
    for unit in _bar(iterable=items, disable=len(items) < 500, desc="canonicalize", unit="unit"):
        check = check_repeat_unit(unit)
        canonical = canonical_repeat_unit(unit) if check.valid else None
        rows.append({"smiles": check.smiles, "canonical": canonical, "reason": check.reason})
    text = "\n".join(f"{r['smiles']}\t{r['canonical'] or 'INVALID: ' + r['reason']}"
                     for r in rows)
    if len(rows) > 1:
        distinct = len({r["canonical"] for r in rows if r["canonical"]})
        text += f"\n# {len(rows)} units, {distinct} distinct polymers"
    _emit(rows, as_json, text, units={})
    if any(r["canonical"] is None for r in rows):
        sys.exit(1)


@smiles.command("polymerize", examples=(
    "polyhpc smiles polymerize '*OCC*'                # PEO: DP 51, as HTP-MD builds it",
    "polyhpc smiles polymerize '*CC(COC)O*' --json",
    "polyhpc smiles polymerize '*OCC*' --backbone-above 60   # shorter chains",
))
@_with_smiles_args
@click.option("--backbone-above", type=click.IntRange(min=1), default=150, show_default=True,
              help="The backbone (heavy atoms end to end, over all units) holds more than this; "
                   "HTP-MD: 150, so DP = 150 // atoms per unit + 1 (PEO: 51).")
def smiles_polymerize(units, file, as_json, backbone_above) -> None:
    """Build methyl-capped chains whose backbone is longer than --backbone-above atoms."""
    from polyhpc.chem import polymerize

    chains = [polymerize(unit, backbone_above).to_dict() for unit in _read_smiles(units, file)]
    text = "\n".join(
        f"{c['unit_smiles']}: DP {c['degree_of_polymerization']}, backbone "
        f"{c['backbone_atoms']} atoms, {c['formula']}, {c['molar_mass_g_per_mol']:.1f} g/mol"
        for c in chains)
    _emit(chains, as_json, text, units={"backbone_atoms": "atoms", "heavy_atoms": "atoms",
                                        "molar_mass_g_per_mol": "g/mol"})


