"""MD evaluation of polymer-LiTFSI systems with real LAMMPS (the HTP-MD protocol).

``settings`` (build and protocol settings), ``composition`` (chain length, chains, ion
pairs), ``build``/``packing``/``forcefield``/``datafile`` (the system and its data file),
``protocol`` (stages and rendered inputs), ``runner`` (the one subprocess call),
``lammps`` (a run folder: stages, production, replicas, ``evaluate``), ``meta``,
``restart`` and ``lock`` (what keeps a run folder one run), ``thermo`` (logs and plots).
"""
