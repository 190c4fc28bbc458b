"""The discovery campaign: config, ledger, loop, evaluators, feedback, report, plan.

From a notebook::

    from polyhpc.campaign import ledger_frames
    frames = ledger_frames("runs/campaign-laptop")
    frames["aggregates"][["candidate_id", "source", "objective_mean", "status"]]
"""

from polyhpc.lazy import exports

_EXPORTS = {"ledger_frames": "polyhpc.campaign.store"}
__all__ = sorted(_EXPORTS)

# imported on first use
__getattr__, __dir__ = exports(__name__, _EXPORTS, globals())
