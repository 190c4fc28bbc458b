"""LAMMPS input templates of the HTP-MD protocol, shipped as ``polyhpc.lammps_templates``."""
