"""MD evaluation of polymer-LiTFSI systems with real LAMMPS (the HTP-MD protocol).

``settings`` (build and protocol settings), ``composition`` (chain length, chains, ion
pairs), ``build``/``packing``/``forcefield``/``datafile`` (the system and its data file),
``protocol`` (stages and rendered inputs), ``runner`` (the one subprocess call),
``lammps`` (a run folder: stages, production, replicas, ``evaluate``), ``meta``,
``restart`` and ``lock`` (what keeps a run folder one run), ``thermo`` (logs and plots).

A notebook builds a system with the names exported here, imported on first
use, so that importing ``polyhpc.md.settings`` (a campaign config does) loads
neither RDKit nor the force field::

    from polyhpc.md import build_system, write_system
    built = build_system("*CCO*")       # PEO at HTP-MD size: 15 chains of DP 51, 50 LiTFSI
    write_system("peo", built)          # peo/system.lmp and peo/meta.json
"""

from polyhpc.lazy import exports

#: Exported name -> the module that defines it.
_EXPORTS = {
    "BuildSettings": "polyhpc.md.settings",
    "Protocol": "polyhpc.md.settings",
    "build_system": "polyhpc.md.build",
    "write_system": "polyhpc.md.build",
    "load_protocol": "polyhpc.md.protocol",
    "evaluate": "polyhpc.md.lammps",
    "run_replicas": "polyhpc.md.lammps",
}

__all__ = sorted(_EXPORTS)


# imported on first use (RDKit and the force field are slow)
__getattr__, __dir__ = exports(__name__, _EXPORTS, globals())
