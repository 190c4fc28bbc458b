"""The HTP-MD simulation protocol as typed data, and LAMMPS inputs rendered from it.

Stages and settings follow the HTP-MD protocol (Xie et al., Nat. Commun. 13,
3415 (2022); the TRI-AMDD/PolyGen example inputs): 14 equilibration stages
(about 6 ns at ``eqfactor`` 1) and an NVT production run. Fidelity profiles
(``workflows/md-*.yaml``) change numbers, never the structure; a profile
that departs from the paper says so in ``deviations``. Rendering is pure:
template plus typed parameters gives text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from polyhpc.config import load_config
from polyhpc.md.build import BuildSettings
from polyhpc.resources import templates_dir


@dataclass(frozen=True)
class Protocol:
    """Every number of an HTP-MD run."""

    name: str = "paper"
    temperature_K: float = field(default=353.0, metadata={"min": 1.0})
    anneal_temperature_K: float = field(default=453.0, metadata={"min": 1.0})
    timestep_fs: float = field(default=2.0, metadata={"min": 0.01, "max": 5.0})
    initial_timestep_fs: float = field(default=0.5, metadata={"min": 0.01, "max": 5.0})
    respa: bool = True
    eqfactor: float = field(default=1.0, metadata={"min": 1e-6})
    production_ps: float = field(default=5000.0, metadata={"min": 0.0})
    dump_every_steps: int = field(default=1000, metadata={"min": 1})
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
    ion_dcd: bool = True
    deviations: tuple[str, ...] = ()
    lmp_args: tuple[str, ...] = ()  # accelerator flags for lmp, e.g. KOKKOS on a GPU
    build: BuildSettings = field(default_factory=BuildSettings)


@dataclass(frozen=True)
class Stage:
    """One equilibration stage."""

    index: int
    kind: str  # "minimize", "nvt" or "npt"
    duration_ps: float = 0.0
    temperature_K: tuple[float, float] = (353.0, 353.0)
    pressure_atm: tuple[float, float] = (1.0, 1.0)
    timestep_fs: float = 2.0
    kspace: bool = True
    new_velocities: bool = False
    average_window_steps: int = 0  # >0: average the box length over this many final steps
    average_skip_steps: int = 0
    set_average_box: bool = False

    def steps(self) -> int:
        """MD steps of this stage (0 for a minimization)."""
        return 0 if self.kind == "minimize" else round(self.duration_ps * 1000 / self.timestep_fs)


def load_protocol(path: Path | str) -> Protocol:
    """Read a fidelity profile (``workflows/md-paper.yaml`` and friends)."""
    return load_config(path, Protocol)


def equilibration_stages(p: Protocol) -> list[Stage]:
    """Stages 1-14 of the HTP-MD equilibration, durations scaled by ``eqfactor``."""
    T, hot, f = p.temperature_K, p.anneal_temperature_K, p.eqfactor
    high, ramp = p.high_pressure_atm, p.ramp_pressure_atm

    def steps(ps: float) -> int:
        return max(2, round(ps * f * 1000 / p.timestep_fs))

    def make(index, kind, ps=0.0, temps=(T, T), press=(1.0, 1.0), **extra):
        return Stage(index, kind, ps * f, temps, press, extra.pop("dt", p.timestep_fs), **extra)

    return [
        make(1, "minimize", kspace=False),
        make(2, "nvt", 50, dt=p.initial_timestep_fs, kspace=False, new_velocities=True),
        make(3, "npt", 100, press=(1.0, ramp), dt=p.initial_timestep_fs, kspace=False),
        make(4, "minimize"),
        make(5, "npt", 500, press=(1.0, high), new_velocities=True),
        make(6, "npt", 400, press=(high, high)),
        make(7, "npt", 600, press=(high, 1.0)),
        make(8, "npt", 400, temps=(T, hot)),
        make(9, "npt", 400, temps=(hot, T)),
        make(10, "npt", 300, press=(1.0, high)),
        make(11, "npt", 300, press=(high, 1.0)),
        make(12, "nvt", 800),
        # the box length is averaged over a 500 ps window after the first 200 ps
        make(13, "npt", 1200, average_window_steps=steps(500), average_skip_steps=steps(200)),
        make(14, "nvt", 1000, set_average_box=True),
    ]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def render_input(template: str, protocol: Protocol, **context) -> str:
    """Render ``lammps_templates/<template>`` with the protocol and extra context.

    Missing context variables raise (``StrictUndefined``): a template is never
    rendered with a silent blank.
    """
    production_steps = round(protocol.production_ps * 1000 / protocol.timestep_fs)
    return _environment().get_template(template).render(
        p=protocol, stages=equilibration_stages(protocol),
        production_steps=production_steps, **context)
