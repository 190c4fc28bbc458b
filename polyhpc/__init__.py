"""polyhpc: AI-driven polymer-electrolyte discovery from laptop to SLURM cluster.

A conditional minGPT model proposes polymer repeat units, LAMMPS molecular
dynamics evaluates their Li+ conductivity, a Numba trajectory analysis turns
production runs into cluster Nernst-Einstein conductivities, and the best
polymers are fed back into the model (Khajeh et al., Digital Discovery 2025,
4, 11; DOI 10.1039/d4dd00293h).
"""

from polyhpc.errors import PolyhpcError

__version__ = "0.1.0"

__all__ = ["PolyhpcError", "__version__"]
