"""Trajectory analysis: dumps to HTP-MD transport properties.

``meta`` (metadata) and ``io``/``dump``/``dumptext`` (reading), ``kernels``
(MSD, ion clusters), ``transport`` (properties), ``pipeline`` (the entry
point, :func:`analyze`), ``results`` and ``replicas`` (schema, replica checks and mean ± std),
``plots``, ``bench`` and ``synthetic`` (benchmark dumps); ``jit`` (the ``@njit``
of every kernel, cached on disk, with a writable cache folder found or made).
"""

from polyhpc.lazy import exports

_EXPORTS = {"analyze": "polyhpc.analysis.pipeline:analyze_path"}
__all__ = sorted(_EXPORTS)

# imported on first use (Numba is slow to load)
__getattr__, __dir__ = exports(__name__, _EXPORTS, globals())
