"""Trajectory analysis: dumps to HTP-MD transport properties.

``meta`` (metadata) and ``io``/``dump``/``dumptext`` (reading), ``kernels``
(MSD, ion clusters), ``transport`` (properties), ``analyze`` (the entry
point), ``results`` and ``replicas`` (schema, replica checks and mean ± std),
``plots``, ``bench`` and ``synthetic`` (benchmark dumps).
"""
