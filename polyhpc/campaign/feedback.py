"""The feedback step: which polymers go back into the generator's training set.

Khajeh et al. 2025, section 3.4: "we add both PEO and newly discovered
polymers showing conductivity higher than PEO to the training set and
oversample 4000 in total from all newly added polymers". So:

- a winner is a candidate of this campaign whose replica-mean objective
  exceeds the reference's (PEO), both evaluated in this campaign from the same
  source (MD against MD, surrogate against surrogate; the source is
  :func:`polyhpc.campaign.fidelity.result_source`: an MD profile too short to
  resolve transport gives no results), with at least ``md.min_replicas``
  finished replicas (an ``incomplete`` aggregate never wins);
- the polymers added by feedback (the reference and every winner so far) share
  ``copies_total`` sequences (4,000) with the high-class label, as evenly as
  possible; they replace the configured extra units (PEO x4,000) of the first
  iteration, so the training set grows by new polymers, never by 4,000 more PEO;
- the class threshold stays the one fixed at iteration 1.

Conductivities are S/cm inside the library; only the generator's training
frame is in mS/cm, converted at its edge.
"""

from __future__ import annotations

from polyhpc.generate.config import ExtraUnits


def share_copies(units: list[str], total: int) -> list[tuple[str, int]]:
    """Split ``total`` copies among ``units`` as evenly as possible (earlier units first)."""
    if not units:
        return []
    base, extra = divmod(total, len(units))
    return [(unit, base + (1 if i < extra else 0)) for i, unit in enumerate(units)]


def extra_units(fed_back: list[dict], total: int, label: int = 1) -> tuple[ExtraUnits, ...]:
    """The generator's extra units from feedback rows (reference and winners, no repeats)."""
    seen, units = set(), []
    for row in fed_back:
        if row["canonical"] not in seen:
            seen.add(row["canonical"])
            units.append(row["smiles"])
    return tuple(ExtraUnits(smiles, copies, label) for smiles, copies
                 in share_copies(units, total) if copies > 0)


def winners(candidates: list[dict], aggregates: dict[int, dict], reference: dict | None) \
        -> list[dict]:
    """Candidates whose aggregate objective mean exceeds the reference's, best first.

    Parameters
    ----------
    candidates : list of dict
        Candidate rows of one iteration (role "candidate").
    aggregates : dict
        candidate id -> aggregate row of the comparison source (status "ok" rows count).
    reference : dict or None
        The reference's aggregate of the same source; None (it failed), an incomplete one or
        a mean of zero (unresolvable) means no winners.
    """
    if reference is None or reference["status"] != "ok" or reference["objective_mean"] is None:
        return []
    if reference["objective_mean"] <= 0:
        return []  # a reference that did not conduct measurably cannot be beaten meaningfully
    bar = reference["objective_mean"]
    picked = []
    for c in candidates:
        agg = aggregates.get(c["id"])
        if agg is not None and agg["status"] == "ok" and agg["objective_mean"] is not None \
                and agg["objective_mean"] > bar:
            picked.append({**c, "objective_mean": agg["objective_mean"]})
    return sorted(picked, key=lambda c: -c["objective_mean"])
