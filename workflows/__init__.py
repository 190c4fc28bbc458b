"""MD profiles, generator and campaign configs (YAML), shipped as ``polyhpc.workflows``."""
