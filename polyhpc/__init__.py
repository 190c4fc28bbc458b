"""polyhpc: AI-driven polymer-electrolyte discovery from laptop to SLURM cluster.

A conditional minGPT model proposes polymer repeat units, LAMMPS molecular
dynamics evaluates their Li+ conductivity, a Numba trajectory analysis turns
production runs into cluster Nernst-Einstein conductivities, and the best
polymers are fed back into the model (Khajeh et al., Digital Discovery 2025,
4, 11; DOI 10.1039/d4dd00293h).

A notebook starts from the entry points the subpackages export (docs/notebook.rst):
``polyhpc.analysis.analyze``, ``polyhpc.chem.canonical_repeat_unit``,
``polyhpc.generate.load_checkpoint`` and ``generate_candidates``,
``polyhpc.md.build_system`` and ``polyhpc.campaign.ledger_frames``.
"""

from polyhpc.errors import PolyhpcError

#: The one version source: pyproject.toml reads it (``tool.setuptools.dynamic``).
__version__ = "0.2.0.dev0"

__all__ = ["PolyhpcError", "__version__"]
