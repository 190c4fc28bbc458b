"""Trajectory analysis: dumps to HTP-MD transport properties.

``meta`` (metadata) and ``io``/``dump``/``dumptext`` (reading), ``kernels``
(MSD, ion clusters), ``transport`` (properties), ``pipeline`` (the entry
point, :func:`analyze`), ``results`` and ``replicas`` (schema, replica checks and mean ± std),
``plots``, ``bench`` and ``synthetic`` (benchmark dumps); ``jit`` (the ``@njit``
of every kernel, cached on disk, with a writable cache folder found or made).
"""

__all__ = ["analyze"]


def __getattr__(name: str):
    """``from polyhpc.analysis import analyze``, imported on first use (Numba is slow to load)."""
    if name == "analyze":
        from polyhpc.analysis.pipeline import analyze_path

        return analyze_path
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
