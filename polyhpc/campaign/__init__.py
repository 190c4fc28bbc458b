"""The discovery campaign: config, ledger, loop, evaluators, feedback, report, plan.

From a notebook::

    from polyhpc.campaign import ledger_frames
    frames = ledger_frames("runs/campaign-laptop")
    frames["aggregates"][["candidate_id", "source", "objective_mean", "status"]]
"""

__all__ = ["ledger_frames"]


def __getattr__(name: str):
    """``ledger_frames``, imported on first use."""
    if name == "ledger_frames":
        from polyhpc.campaign.store import ledger_frames

        return ledger_frames
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
