"""Parsl site factories: each module's ``make_config`` returns a fresh ``parsl.Config``."""
