"""Parsl site ``parsl``: the user's own Parsl config, from a Python file they name.

For any system polyhpc ships no site for (LSF, Flux, Kubernetes, a tuned
HTEx on PBS...), the campaign's ``site:`` section names a file::

    site: {kind: parsl, factory: my_site.py}            # calls make_config(run_dir)
    site: {kind: parsl, factory: my_site.py:polaris}    # calls polaris(run_dir)

The function takes the run folder Parsl must log into (inside the campaign
folder) and returns a ``parsl.Config``. Its executors are labelled for
polyhpc's pools, ``ai`` (training, sampling), ``md`` (LAMMPS) and ``cpu``
(system building, analysis, surrogate), or it has a single executor that runs
everything; anything else is refused naming the missing label. The file is
the user's own code, run as such: polyhpc imports it only when this site is
configured.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

from parsl.config import Config

from polyhpc.errors import ConfigError


def load_factory(spec: str):
    """The function of ``path.py[:function]`` (default ``make_config``)."""
    path_text, _, name = spec.partition(":") if not Path(spec).is_file() else (spec, "", "")
    name = name or "make_config"
    path = Path(path_text).expanduser()
    if not path.is_file() or path.suffix != ".py":
        raise ConfigError(f"site.factory: {path} is not a Python file")
    module_spec = importlib.util.spec_from_file_location(f"polyhpc_user_site_{path.stem}", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file: say where it failed
        raise ConfigError(f"site.factory: importing {path} failed ({type(exc).__name__}: "
                          f"{exc})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise ConfigError(f"site.factory: {path} has no function {name}() returning a "
                          "parsl.Config")
    return function


def make_config(site, run_dir: str, cores_per_task: int = 1) -> Config:
    """Call the user's factory; check it returned a Parsl config; log into ``run_dir``."""
    function = load_factory(site.factory)
    accepts = inspect.signature(function).parameters
    try:
        config = function(run_dir) if accepts else function()
    except Exception as exc:  # noqa: BLE001 - the user's code: one line, not a traceback
        raise ConfigError(f"site.factory {site.factory}: {type(exc).__name__}: {exc}") from None
    if not isinstance(config, Config):
        raise ConfigError(f"site.factory {site.factory} returned {type(config).__name__}, "
                          "not a parsl.Config")
    config.run_dir = run_dir  # Parsl's logs and scripts stay inside the campaign folder
    return config
