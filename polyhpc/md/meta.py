"""What a run folder records about itself, and the checks that keep it one run.

``meta.json`` holds the HTP-MD schema fields the analysis reads (ion types,
``temperature``, ``time_step``), the build summary, provenance (versions,
seeds, the LAMMPS build), the protocol (``protocol`` name, ``deviations``,
the full settings and their sha256), the force field (``force_field`` label
and ``force_field_file`` name and sha256) and the sha256 of ``system.lmp``.
Every LAMMPS record carries that system hash too. A folder never mixes two
systems, protocols or velocity seeds: :func:`prepare_run` refuses, and it
refuses a ``system.lmp`` that no longer is the file ``md build`` wrote (an
edited data file would otherwise run silently).

Settings recorded by older polyhpc versions are read through
:func:`upgrade_settings` (damping in steps became damping in fs), so a folder
run before keeps its protocol when the numbers it ran with are unchanged.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from polyhpc.config import load_config, to_dict
from polyhpc.errors import ConfigError, PolyhpcError
from polyhpc.fileio import sha256_file, write_json_atomic
from polyhpc.md.settings import RUN_ONLY_FIELDS, Protocol

#: HTP-MD type numbering: polymer 1-89, Li 90, TFSI 91-95 (93 = N).
HTPMD_TYPES = {"cation_raw_type": 90, "anion_raw_type": 93, "polymer_raw_type_range": [0, 89],
               "polymer_solvate_types": [7, 8, 16], "salt_cation": "Li", "salt_anion": "TFSI"}

#: Files and patterns polyhpc writes into a run folder (``md build --force`` removes them).
RUN_FILES = ("system.lmp", "meta.json", "records.json", "outcome.json", "box_average.txt",
             "equilibration.png", "relaxed.restart", "relaxed.lmp", "traj.lammpstrj",
             "ions.dcd", "analysis.json", "log.lammps", "eq[0-9][0-9].*",
             "production*.in", "production*.log", "production*.restart", "*.partial")


class RunFolderError(PolyhpcError):
    """A run folder would mix two systems, protocols or seeds."""


def read_meta(workdir: Path) -> dict:
    """``workdir/meta.json`` as a dict (empty when absent)."""
    path = Path(workdir) / "meta.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise PolyhpcError(f"{path} is not valid JSON ({exc})") from None


def force_field_record(frc: Path) -> dict:
    """``force_field`` (a label) and ``force_field_file`` (name, sha256) of a ``.frc`` file."""
    from polyhpc.md.frc import default_frc_path

    frc = Path(frc)
    digest = sha256_file(frc)
    public = digest == sha256_file(default_frc_path())
    label = f"PCFF ({frc.name}, public)" if public else f"user force field ({frc.name})"
    return {"force_field": label, "force_field_file": {"name": frc.name, "sha256": digest}}


def protocol_record(protocol: Protocol) -> dict:
    """Name, deviations, settings, and a sha256 of the settings a LAMMPS run computes with."""
    settings = to_dict(protocol)
    return {"protocol": protocol.name, "deviations": list(protocol.deviations),
            "protocol_settings": settings, "protocol_sha256": _settings_sha256(settings)}


def _settings_sha256(settings: dict) -> str:
    return hashlib.sha256(json.dumps(_computed(settings), sort_keys=True).encode()).hexdigest()


def upgrade_settings(settings: dict) -> dict:
    """Protocol settings as recorded by an older polyhpc, in today's fields.

    Damping was recorded as ``thermostat_damp_steps`` / ``barostat_damp_steps``
    (time steps of the stage); it is now in fs, with separate values for the
    stages at ``initial_timestep_fs``. The same numbers, converted.
    """
    settings = dict(settings)
    dt = settings.get("timestep_fs", 2.0)
    initial_dt = settings.get("initial_timestep_fs", 0.5)
    for kind in ("thermostat", "barostat"):
        steps = settings.pop(f"{kind}_damp_steps", None)
        if steps is not None:
            settings.setdefault(f"{kind}_damp_fs", steps * dt)
            settings.setdefault(f"initial_{kind}_damp_fs", steps * initial_dt)
    return settings


def _computed(settings: dict) -> dict:
    """The settings a LAMMPS run computes with.

    Not the run-only ones, not the build settings (they made ``system.lmp``,
    whose own hash is checked).
    """
    return {k: v for k, v in settings.items() if k not in (*RUN_ONLY_FIELDS, "build")}


def recorded_protocol(workdir: Path) -> Protocol | None:
    """The protocol a run folder was built or run with (``None`` when it records none)."""
    settings = read_meta(workdir).get("protocol_settings")
    if settings is None:
        return None
    if not isinstance(settings, dict):
        raise ConfigError(f"{Path(workdir) / 'meta.json'}: protocol_settings is not a mapping")
    try:
        return load_config(upgrade_settings(settings), Protocol)
    except ConfigError as exc:
        raise ConfigError(f"{Path(workdir) / 'meta.json'}: protocol_settings: {exc}") from None


def _differences(recorded: dict, given: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(recorded) | set(given)):
        a, b = recorded.get(key), given.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {a!r} -> {b!r}")
    return out


def system_sha256(workdir: Path) -> str | None:
    """sha256 of ``system.lmp`` (or of ``relaxed.restart`` for a system equilibrated elsewhere)."""
    for name in ("system.lmp", "relaxed.restart"):
        if (Path(workdir) / name).is_file():
            return sha256_file(Path(workdir) / name)
    return None


def read_records(workdir: Path) -> list[dict]:
    """Every LAMMPS record of a run folder (``records.json``), oldest first."""
    path = Path(workdir) / "records.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else []
    except ValueError as exc:
        raise PolyhpcError(f"{path} is not valid JSON ({exc})") from None


def prepare_run(workdir: Path, protocol: Protocol, velocity_seed: int,
                velocity_stages: dict[str, int]) -> str | None:
    """Refuse a folder that would mix runs; record protocol, seeds and system hash.

    Returns the system's sha256 (stamped on every record of this run).

    Raises
    ------
    RunFolderError
        The stage records belong to another system, or the folder was built or
        run with another protocol or velocity seed.
    """
    workdir = Path(workdir)
    meta = read_meta(workdir)
    system = system_sha256(workdir)
    records = read_records(workdir)
    other = next((r for r in records if r.get("system_sha256") not in (None, system)), None)
    if other is not None:
        raise RunFolderError(
            f"{workdir} holds LAMMPS outputs of another system ({other['name']} ran on "
            f"sha256 {other['system_sha256'][:12]}, system.lmp is now {str(system)[:12]}): "
            "build into a new folder, or rebuild with `polyhpc md build ... --force`")
    _refuse_edited_system(workdir, meta, system)
    mine = protocol_record(protocol)
    recorded = upgrade_settings(meta.get("protocol_settings") or {})
    if meta.get("protocol_sha256") not in (None, mine["protocol_sha256"]) and (
            _settings_sha256(recorded) != mine["protocol_sha256"]):
        changed = _differences(_computed(recorded), _computed(mine["protocol_settings"]))
        raise RunFolderError(
            f"{workdir} was built/run with profile {meta.get('protocol')!r}; this run's profile "
            f"{protocol.name!r} differs ({'; '.join(changed[:4]) or 'settings'}): run it with "
            f"--profile {meta.get('protocol')} or build a new folder")
    ran = any(not r.get("skipped") for r in records)
    if ran and meta.get("velocity_seed") not in (None, velocity_seed):
        raise RunFolderError(
            f"{workdir} was run with velocity seed {meta['velocity_seed']}; seed "
            f"{velocity_seed} would mix two runs: run it with --seed {meta['velocity_seed']}")
    write_json_atomic(workdir / "meta.json", {
        **meta, **mine, "velocity_seed": velocity_seed, "velocity_seeds": velocity_stages,
        "system_sha256": system})
    return system


def _refuse_edited_system(workdir: Path, meta: dict, system: str | None) -> None:
    """Refuse a ``system.lmp`` that is not the one ``md build`` wrote into this folder.

    ``meta.json`` of a built folder holds the build record and the data file's
    sha256 (:func:`polyhpc.md.build.write_system`); a file edited or replaced
    since then would run silently with other charges or atoms.
    """
    built = meta.get("build")
    recorded = meta.get("system_sha256")
    if not built or recorded is None or system == recorded:
        return
    if not (Path(workdir) / "system.lmp").is_file():
        return  # equilibrated elsewhere: relaxed.restart is the system
    unit = built.get("unit_smiles", "UNIT") if isinstance(built, dict) else "UNIT"
    raise RunFolderError(
        f"{Path(workdir) / 'system.lmp'} is not the file `polyhpc md build` wrote (sha256 "
        f"{str(recorded)[:12]} in meta.json, the file now {str(system)[:12]}): it was edited "
        f"or replaced; `polyhpc md build '{unit}' --out {workdir} --force` rebuilds it (same "
        "--profile and --seed), or build into a new folder")


def write_meta(workdir: Path, protocol: Protocol) -> Path:
    """Complete ``meta.json`` for the production trajectory (existing fields are kept)."""
    path = Path(workdir) / "meta.json"
    meta = read_meta(workdir)
    unknown = "unknown (the folder was not built by polyhpc)"
    meta = {**HTPMD_TYPES, "material_group": "polymer", "force_field": unknown,
            "force_field_file": None, **meta, **protocol_record(protocol),
            "temperature": protocol.temperature_K,
            "time_step": protocol.dump_every_steps * protocol.timestep_fs / 1000.0}
    write_json_atomic(path, meta)
    return path


def holds_run(workdir: Path) -> list[str]:
    """Names of polyhpc run files in ``workdir`` (empty for a new or unrelated folder)."""
    workdir = Path(workdir)
    if not workdir.is_dir():
        return []
    return sorted({p.name for pattern in RUN_FILES for p in workdir.glob(pattern)})


def clear_run(workdir: Path) -> list[str]:
    """Delete the run files polyhpc wrote into ``workdir`` (nothing else); return their names."""
    names = holds_run(workdir)
    for name in names:
        (Path(workdir) / name).unlink()
    return names


def provenance(seeds: dict, protocol: Protocol, replica: int | None = None,
               lmp_prefix: tuple[str, ...] = ()) -> dict:
    """Versions, seeds and the LAMMPS build that a run folder records in ``meta.json``."""
    import numpy as np
    import rdkit

    from polyhpc import __version__
    from polyhpc.md.runner import lmp_header

    return {"polyhpc": __version__, "rdkit": rdkit.__version__, "numpy": np.__version__,
            "lammps": lmp_header(lmp_prefix), "seeds": seeds, "replica": replica,
            "protocol": protocol.name}
