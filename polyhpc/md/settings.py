"""Settings of the MD stage: how a system is built and which protocol runs it.

Frozen dataclasses with their valid ranges in ``metadata``, read from the
fidelity profiles (``workflows/md-*.yaml``) by
:func:`polyhpc.md.protocol.load_protocol`. They live in their own module so
that building, rendering and running import settings, never each other.
A settings object checks its ranges when it is made, so ``dataclasses.replace``
with a bad value fails as loudly as a bad YAML file.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from polyhpc.errors import ConfigError


def check_ranges(settings) -> None:
    """Raise :class:`ConfigError` for a field outside its ``metadata`` min/max."""
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value is None or isinstance(value, (bool, str, tuple)) or dataclasses.is_dataclass(
                value):
            continue
        low, high = f.metadata.get("min"), f.metadata.get("max")
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
    thermostat_damp_steps: int = field(default=100, metadata={"min": 1})
    barostat_damp_steps: int = field(default=1000, metadata={"min": 1})
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
        if self.restart_every_steps % self.dump_every_steps:
            # a continued production rewrites the frame of its restart step: it must be one
            raise ConfigError(f"restart_every_steps: {self.restart_every_steps} is not a "
                              f"multiple of dump_every_steps ({self.dump_every_steps})")


#: Fields that do not change what a run computes: a run folder may be continued
#: with other values (more replicas elsewhere, other accelerator flags).
RUN_ONLY_FIELDS = ("replicas", "lmp_args")
