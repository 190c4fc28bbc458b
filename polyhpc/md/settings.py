"""Settings of the MD stage: how a system is built and which protocol runs it.

Frozen dataclasses with their valid ranges in ``metadata``, read from the
fidelity profiles (``workflows/md-*.yaml``) by
:func:`polyhpc.md.protocol.load_protocol`. They live in their own module so
that building, rendering and running import settings, never each other.
A settings object checks its ranges when it is made, so ``dataclasses.replace``
with a bad value fails as loudly as a bad YAML file.

Strings of a profile reach LAMMPS: ``name`` and ``deviations`` are written
into comment lines of every input, ``lmp_args`` onto the ``lmp`` command
line (as separate arguments, never through a shell). A profile is someone's
file, so each string is checked when the settings are made
(:func:`check_text`, :func:`check_lmp_args`): one line of plain characters,
or the profile is refused naming the field. A line break would start a new
LAMMPS command (``shell ...`` runs a program), a trailing ``&`` joins the
next command into the comment, and triple quotes open a string that swallows
the following lines.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from polyhpc.errors import ConfigError

#: What a string written into a LAMMPS comment line may hold (and nothing else).
TEXT_CHARACTERS = "letters, digits, spaces and . , : ; ( ) [ ] + - * / = < > _ % ' ~ @ ! ?"
_TEXT = re.compile(r"[A-Za-z0-9 .,:;()\[\]+\-*/=<>_%'~@!?]*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
_NAME_CHAR = re.compile(r"[A-Za-z0-9._+-]")
_MAX_TEXT = 1000
#: lmp options a profile may pass: accelerators and output buffering. Not -in, -log,
#: -var, -echo, -screen and the like, which would change what polyhpc runs or reads.
LMP_OPTIONS = frozenset({"-k", "-kokkos", "-sf", "-suffix", "-pk", "-package",
                         "-nc", "-nocite", "-nb", "-nonbuf"})
_LMP_WORD = re.compile(r"[A-Za-z0-9_.:/{}=+,-]+")


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


def check_text(name: str, value: str, what: str = "text") -> None:
    """Refuse a string that is not one line of plain characters (``ConfigError``).

    ``what="name"`` asks for a name: a letter or digit, then letters, digits and
    ``. _ + -`` (no spaces).
    """
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a string, got {value!r}")
    if len(value) > _MAX_TEXT:
        raise ConfigError(f"{name}: {_shown(value)} is longer than {_MAX_TEXT} characters")
    pattern, allowed = ((_NAME, "a letter or digit, then letters, digits and . _ + -")
                        if what == "name" else (_TEXT, TEXT_CHARACTERS))
    if pattern.fullmatch(value):
        return
    char = _NAME_CHAR if what == "name" else _TEXT
    bad = next((c for c in value if not char.fullmatch(c)), value[:1])
    raise ConfigError(f"{name}: {_shown(value)} holds {bad!r}, which is not allowed in text "
                      f"written into a LAMMPS input (one line of {allowed})")


def check_lmp_args(name: str, args) -> None:
    """Refuse ``lmp`` arguments that are not accelerator options (``ConfigError``).

    Each argument is one word of plain characters (``{gpus}`` allowed); each
    option is one of :data:`LMP_OPTIONS`.
    """
    for i, arg in enumerate(args):
        if not isinstance(arg, str) or not _LMP_WORD.fullmatch(arg):
            raise ConfigError(f"{name}[{i}]: {arg!r} is not one plain word (letters, digits "
                              "and _ . : / { } = + , -)")
        if arg.startswith("-") and arg not in LMP_OPTIONS and not _number(arg):
            raise ConfigError(f"{name}[{i}]: {arg!r} is not an lmp option polyhpc passes on "
                              f"(allowed: {' '.join(sorted(LMP_OPTIONS))}); polyhpc sets the "
                              "input, the log and the variables itself")


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def check_ranges(settings) -> None:
    """Raise :class:`ConfigError` for a field outside its ``metadata`` min/max."""
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value is None or isinstance(value, (bool, str, tuple)) or dataclasses.is_dataclass(
                value):
            continue
        low, high = f.metadata.get("min"), f.metadata.get("max")
        if low is not None and f.metadata.get("min_open") and value <= low:
            raise ConfigError(f"{f.name}: {value!r} must be above {low}")
        if low is not None and value < low:
            raise ConfigError(f"{f.name}: {value!r} is below the minimum {low}")
        if high is not None and value > high:
            raise ConfigError(f"{f.name}: {value!r} is above the maximum {high}")


@dataclass(frozen=True)
class BuildSettings:
    """How a system is assembled from a repeat unit (HTP-MD values by default).

    The HTP-MD rules, read off ``htpmd-properties.csv`` (every row
    ``poly_9_nion_50_conc_1.5``): a chain holds more than
    ``backbone_atoms_above`` backbone heavy atoms, i.e. ``DP = 150 // per_unit + 1``
    (PEO: 51); ``ion_pairs`` Li+/TFSI- pairs (50); the fewest whole chains
    whose molality stays at or below ``max_molality_mol_per_kg``.

    The bound is 1.4995 rather than the nominal 1.5 mol/kg: that is what the
    data shows. The largest HTP-MD molality is 1.4994, and for 11 of its
    5,987 parsable units the chain count with a bound of exactly 1.5 would be
    one chain fewer (molality 1.4996-1.49995) than the one HTP-MD built.
    ``chains`` overrides the rule (smoke profiles and tests).
    """

    backbone_atoms_above: int = field(default=150, metadata={"min": 0})
    ion_pairs: int = field(default=50, metadata={"min": 1})
    max_molality_mol_per_kg: float = field(default=1.4995, metadata={"min": 1e-6})
    chains: int | None = field(default=None, metadata={"min": 1})
    density_g_cm3: float = field(default=0.6, metadata={"min": 0.01, "max": 3.0})
    box_expand: float = field(default=1.4411, metadata={"min": 1.0})
    min_distance_A: float = field(default=1.0, metadata={"min": 0.1})  # any two atoms
    min_heavy_distance_A: float = field(default=2.0, metadata={"min": 0.1})  # non-H atoms
    attempts_per_unit: int = field(default=60, metadata={"min": 1})

    def __post_init__(self):
        check_ranges(self)


@dataclass(frozen=True)
class Protocol:
    """Every number of an HTP-MD run (Xie et al., Nat. Commun. 13, 3415 (2022)).

    Durations in ps, time steps in fs. A profile that departs from the
    published protocol lists each departure and its reason in ``deviations``
    (rendered into every LAMMPS input and recorded in ``meta.json``).
    ``lmp_args`` may hold ``{gpus}``, replaced by the GPU count of the run.

    Thermostat and barostat damping times are in fs, as LAMMPS takes them. The
    reference sets them as ``floor(100*dt)`` and ``floor(1000*dt)`` (equal-style
    variables, evaluated where each fix is defined): 200 and 2000 fs at its
    2 fs, 50 and 500 fs in the 0.5 fs stages 2-3. These are the defaults, so a
    profile with another time step keeps the reference's damping times (at
    1 fs: 200 and 2000 steps, not 100 and 1000).
    """

    name: str = "paper"
    temperature_K: float = field(default=353.0, metadata={"min": 1.0})
    anneal_temperature_K: float = field(default=453.0, metadata={"min": 1.0})
    timestep_fs: float = field(default=2.0, metadata={"min": 0.01, "max": 5.0})
    initial_timestep_fs: float = field(default=0.5, metadata={"min": 0.01, "max": 5.0})
    respa: bool = True
    eqfactor: float = field(default=1.0, metadata={"min": 1e-6})
    production_ps: float = field(default=5000.0, metadata={"min": 0.0})
    dump_every_steps: int = field(default=1000, metadata={"min": 1})
    # the reference writes a production restart every 50,000 steps (100 ps at 2 fs)
    restart_every_steps: int = field(default=50000, metadata={"min": 1})
    thermo_every_steps: int = field(default=1000, metadata={"min": 1})
    replicas: int = field(default=5, metadata={"min": 1})
    thermostat_damp_fs: float = field(default=200.0, metadata={"min": 0.0, "min_open": True})
    barostat_damp_fs: float = field(default=2000.0, metadata={"min": 0.0, "min_open": True})
    # stages 2-3 (initial_timestep_fs): the reference's floor(100*0.5) and floor(1000*0.5)
    initial_thermostat_damp_fs: float = field(default=50.0,
                                              metadata={"min": 0.0, "min_open": True})
    initial_barostat_damp_fs: float = field(default=500.0,
                                            metadata={"min": 0.0, "min_open": True})
    high_pressure_atm: float = field(default=4000.0, metadata={"min": 1.0})
    ramp_pressure_atm: float = field(default=1000.0, metadata={"min": 1.0})
    pair_cutoff_A: float = field(default=9.5, metadata={"min": 2.0})
    kspace_accuracy: float = field(default=1e-4, metadata={"min": 1e-8, "max": 1e-2})
    neighbor_skin_A: float = field(default=3.0, metadata={"min": 0.0})
    minimize_tolerance: float = field(default=1e-6, metadata={"min": 0.0})
    minimize_max_iterations: int = field(default=1000, metadata={"min": 1})
    deviations: tuple[str, ...] = ()
    lmp_args: tuple[str, ...] = ()  # accelerator flags for lmp, e.g. KOKKOS on a GPU
    build: BuildSettings = field(default_factory=BuildSettings)

    def __post_init__(self):
        check_ranges(self)
        check_text("name", self.name, what="name")
        if not isinstance(self.deviations, tuple):
            raise ConfigError(f"deviations: expected a list of strings, got {self.deviations!r}")
        for i, line in enumerate(self.deviations):
            check_text(f"deviations[{i}]", line)
        check_lmp_args("lmp_args", self.lmp_args)
        if self.restart_every_steps % self.dump_every_steps:
            # a continued production rewrites the frame of its restart step: it must be one
            raise ConfigError(f"restart_every_steps: {self.restart_every_steps} is not a "
                              f"multiple of dump_every_steps ({self.dump_every_steps})")


#: Fields that do not change what a run computes: a run folder may be continued
#: with other values (more replicas elsewhere, other accelerator flags).
RUN_ONLY_FIELDS = ("replicas", "lmp_args")
