"""Which numbers of a campaign are results: an MD profile too short to resolve transport gives none.

The cluster Nernst-Einstein conductivity comes from ion diffusivities, which
need nanoseconds of production to leave the sub-diffusive regime (HTP-MD: 5 ns
after ~6 ns of equilibration). A profile with less than :data:`MIN_PRODUCTION_PS`
of production (the ``smoke`` profile: 2 ps) runs every stage of the real MD
chain, but its conductivities are artefacts of its length: they check the
pipeline and are never shown as results, never compared with the reference or
the training set, never fed back.

:func:`result_source` says where a campaign's results come from: MD when its
profile resolves transport, else the surrogate where the evaluator has one,
else nothing (a pipeline check).
"""

from __future__ import annotations

#: The shortest production (ps) whose conductivity polyhpc treats as a result.
MIN_PRODUCTION_PS = 1000.0


def md_resolves_transport(protocol_settings: dict) -> tuple[bool, str]:
    """Whether an MD protocol's conductivities are results, and why (one sentence)."""
    production = float(protocol_settings.get("production_ps", 0.0))
    name = protocol_settings.get("name", "?")
    if production < MIN_PRODUCTION_PS:
        return False, (f"the MD profile {name!r} runs {production:g} ps of production; "
                       f"conductivities need at least {MIN_PRODUCTION_PS:g} ps (HTP-MD: 5 ns), "
                       "so its MD numbers check the pipeline and are not results")
    return True, f"the MD profile {name!r} runs {production / 1000:g} ns of production"


def result_source(evaluator: str, md_results: bool) -> str | None:
    """``md``, ``surrogate`` or None (no results: an MD-only pipeline check)."""
    if evaluator == "surrogate":
        return "surrogate"
    if md_results:
        return "md"
    return "surrogate" if evaluator == "surrogate+md" else None


def campaign_sources(ledger) -> dict:
    """What a campaign's numbers are, from its ledger: result source, MD status and reasons."""
    config = ledger.meta("config") or {}
    identity = ledger.meta("identity") or {}
    evaluator = config.get("evaluator", {}).get("kind", "md")
    settings = identity.get("md_protocol", {}).get("settings", {})
    resolves, why = md_resolves_transport(settings) if settings else (True, "")
    return {"evaluator": evaluator, "md_results": resolves, "md_reason": why,
            "source": result_source(evaluator, resolves)}
