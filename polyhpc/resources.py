"""Files shipped with polyhpc: LAMMPS templates, MD profiles, campaign configs, sites.

The repository keeps them at the top level (``lammps_templates/``,
``workflows/``), and ``pyproject.toml`` maps those folders into the package
as ``polyhpc.lammps_templates`` and ``polyhpc.workflows``. So the same
lookup works from a source checkout, an editable install and a regular
wheel (a container image): every path comes from :mod:`importlib.resources`,
never from the location of a source file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from polyhpc.errors import ConfigError


def _folder(package: str) -> Path:
    folder = resources.files(package)
    # Installed packages are plain folders (wheels are unpacked), so this is a real path.
    return Path(str(folder))


def templates_dir() -> Path:
    """Folder of the Jinja2 LAMMPS input templates."""
    return _folder("polyhpc.lammps_templates")


def workflows_dir() -> Path:
    """Folder of the MD profiles, generator and campaign configs and Parsl sites."""
    return _folder("polyhpc.workflows")


def shipped(kind: str) -> dict[str, Path]:
    """Shipped YAML files of one kind (``md``, ``campaign``, ``generator``) by short name."""
    prefix = f"{kind}-"
    return {p.stem.removeprefix(prefix): p for p in sorted(workflows_dir().glob(f"{prefix}*.yaml"))}


def resolve_yaml(name_or_path: str | Path, kind: str, option: str = "--profile") -> Path:
    """A YAML file given as a path, or by the short name of a shipped one.

    ``resolve_yaml("paper", "md")`` is ``workflows/md-paper.yaml``; an
    existing file path is returned as it is. Anything else is refused with
    the list of shipped names.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    known = shipped(kind)
    if str(name_or_path) in known:
        return known[str(name_or_path)]
    raise ConfigError(f"{option} {str(name_or_path)!r}: no such file, and not one of the shipped "
                      f"{kind} configs ({', '.join(known) or 'none'})")
