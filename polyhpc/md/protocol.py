"""The HTP-MD simulation protocol as typed data, and LAMMPS inputs rendered from it.

Stages and settings follow the HTP-MD protocol (Xie et al., Nat. Commun. 13,
3415 (2022); the TRI-AMDD/PolyGen example inputs): 14 equilibration stages
(about 6 ns at ``eqfactor`` 1) and an NVT production run. Fidelity profiles
(``workflows/md-*.yaml``) change numbers, never the structure; a profile
that departs from the paper says so in ``deviations``. Rendering is pure:
template plus typed parameters gives text.

Step counts are the reference's ``floor(eqfactor x duration / dt)``, and the
step counter runs as in the reference: it restarts at 0 after the
minimization of stage 4 and then runs through stages 5-14 without a reset, so
the box average of stage 13 covers the same steps as the reference's
(:func:`box_average_window`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from polyhpc.config import load_config
from polyhpc.errors import ConfigError
from polyhpc.md.runner import CHECKPOINT_MARK, TIMEOUT_MARK
from polyhpc.md.settings import BuildSettings, Protocol
from polyhpc.resources import templates_dir

__all__ = ["BuildSettings", "Protocol", "Stage", "box_average_window", "equilibration_stages",
           "load_protocol", "render_input"]


@dataclass(frozen=True)
class Stage:
    """One equilibration stage (``steps`` MD steps; 0 for a minimization)."""

    index: int
    kind: str  # "minimize", "nvt" or "npt"
    duration_ps: float = 0.0
    temperature_K: tuple[float, float] = (353.0, 353.0)
    pressure_atm: tuple[float, float] = (1.0, 1.0)
    timestep_fs: float = 2.0
    kspace: bool = True
    new_velocities: bool = False
    steps: int = 0
    reset_timestep: bool = False  # the step counter restarts at 0 after this stage
    average_window_steps: int = 0  # >0: LAMMPS averages the box length over such windows
    average_skip_steps: int = 0
    set_average_box: bool = False
    thermostat_damp_fs: float = 200.0
    barostat_damp_fs: float = 2000.0


def load_protocol(path: Path | str) -> Protocol:
    """Read a fidelity profile (``workflows/md-paper.yaml`` and friends)."""
    return load_config(path, Protocol)


def _steps(ps: float, eqfactor: float, timestep_fs: float) -> int:
    """``floor(eqfactor * ps * 1e3 / dt)`` as the reference evaluates it, at least 2."""
    return max(2, math.floor(eqfactor * ps * 1e3 / timestep_fs))


def equilibration_stages(p: Protocol) -> list[Stage]:
    """Stages 1-14 of the HTP-MD equilibration, durations scaled by ``eqfactor``.

    As in the reference input, the long-range solver is on for the first
    minimization (stage 1) and off only for the 0.5 fs stages 2-3, and those
    two stages have their own damping times (the reference's ``floor(100*dt)``
    evaluated at 0.5 fs: :class:`Protocol` ``initial_*_damp_fs``).
    """
    T, hot, f = p.temperature_K, p.anneal_temperature_K, p.eqfactor
    high, ramp = p.high_pressure_atm, p.ramp_pressure_atm
    initial = {"dt": p.initial_timestep_fs, "kspace": False,
               "thermostat_damp_fs": p.initial_thermostat_damp_fs,
               "barostat_damp_fs": p.initial_barostat_damp_fs}

    def make(index, kind, ps=0.0, temps=(T, T), press=(1.0, 1.0), **extra):
        dt = extra.pop("dt", p.timestep_fs)
        extra.setdefault("thermostat_damp_fs", p.thermostat_damp_fs)
        extra.setdefault("barostat_damp_fs", p.barostat_damp_fs)
        steps = 0 if kind == "minimize" else _steps(ps, f, dt)
        return Stage(index, kind, ps * f, temps, press, dt, steps=steps, **extra)

    return [
        make(1, "minimize"),
        make(2, "nvt", 50, new_velocities=True, **initial),
        make(3, "npt", 100, press=(1.0, ramp), **initial),
        make(4, "minimize", reset_timestep=True),
        make(5, "npt", 500, press=(1.0, high), new_velocities=True),
        make(6, "npt", 400, press=(high, high)),
        make(7, "npt", 600, press=(high, 1.0)),
        make(8, "npt", 400, temps=(T, hot)),
        make(9, "npt", 400, temps=(hot, T)),
        make(10, "npt", 300, press=(1.0, high)),
        make(11, "npt", 300, press=(high, 1.0)),
        make(12, "nvt", 800),
        # the reference: fix ave/time 1 (nave-1) nave v_cella start nskip, nave = 500 ps
        # and nskip = 200 ps in steps, with no reset of the step counter before it
        make(13, "npt", 1200, average_window_steps=_steps(500, f, p.timestep_fs),
             average_skip_steps=_steps(200, f, p.timestep_fs)),
        make(14, "nvt", 1000, set_average_box=True),
    ]


def box_average_window(p: Protocol) -> tuple[int, int]:
    """First and last step of the box-length average stage 13 ends with (inclusive).

    Derived as LAMMPS evaluates ``fix ave/time 1 (nave-1) nave v_cella start
    nskip`` (``FixAveTime::nextvalid``): samples on the ``nave - 1`` steps up
    to each output step, outputs on multiples of ``nave`` not before
    ``nskip``, the first window starting no earlier than the step the fix is
    defined on. Stage 13 starts at the sum of the steps of stages 5-12
    (counted from the reset after stage 4) and keeps the last complete window.
    At ``eqfactor`` 1 that is steps 2,000,002-2,250,000: 4,000-4,500 ps after
    the reset, 300-800 ps into the stage.

    Raises
    ------
    ConfigError
        No window completes within stage 13 (``eqfactor`` too small).
    """
    stages = {s.index: s for s in equilibration_stages(p)}
    start = sum(stages[k].steps for k in range(5, 13))
    stage = stages[13]
    end = start + stage.steps
    nave, nskip = stage.average_window_steps, stage.average_skip_steps
    nrepeat = nave - 1
    nvalid = (start // nave) * nave + nave
    while nvalid < nskip:
        nvalid += nave
    if nvalid - nave == start and nrepeat == 1:
        nvalid = start
    else:
        nvalid -= nrepeat - 1
    if nvalid < start:
        nvalid += nave
    first_output = nvalid + nrepeat - 1
    if first_output > end:
        raise ConfigError(f"profile {p.name!r}: eqfactor {p.eqfactor:g} leaves stage 13 "
                          f"({stage.steps} steps) no complete {nave}-step box average")
    last_output = first_output + (end - first_output) // nave * nave
    return last_output - nrepeat + 1, last_output


def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_dir()),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True)


def production_steps(protocol: Protocol) -> int:
    """MD steps of the production run."""
    return round(protocol.production_ps * 1000 / protocol.timestep_fs)


#: File names the templates read and write: plain words, relative to the run folder.
_FILE_NAME = re.compile(r"[A-Za-z0-9_.+-]*")


def _check_context(context: dict) -> None:
    """Refuse a context value that could break out of its place in a LAMMPS input.

    Strings are file names (one plain word); numbers must be finite and of a number
    type (a string that looks like a number is refused too).
    """
    for key, value in context.items():
        if isinstance(value, bool) or value is None or isinstance(value, Stage):
            continue
        if isinstance(value, str):
            if not _FILE_NAME.fullmatch(value):
                raise ConfigError(f"{key}: {value!r} is not a plain file name (letters, "
                                  "digits and _ . + -) and cannot be written into a LAMMPS "
                                  "input")
        elif isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise ConfigError(f"{key}: {value!r} is not a finite number")
        else:
            raise ConfigError(f"{key}: {type(value).__name__} values are not rendered into "
                              "LAMMPS inputs")


def render_input(template: str, protocol: Protocol, **context) -> str:
    """Render ``lammps_templates/<template>`` with the protocol and extra context.

    ``timeout_s`` (whole seconds, or ``None``) adds a LAMMPS ``timer timeout``
    (0 stops at the first check: LAMMPS skips the run); ``continue_from`` (a
    restart file, or empty) continues a production; ``stop_step`` (production,
    default its last step) ends this call's production early at that step, as a
    spent time budget does. String context values are file names and numbers must
    be finite (:func:`_check_context`); the protocol's own strings were checked
    when it was made. Other missing context variables raise (``StrictUndefined``):
    a template is never rendered with a silent blank.
    """
    context.setdefault("timeout_s", None)
    context.setdefault("continue_from", "")
    context.setdefault("checkpoint_every_steps", None)
    context.setdefault("stop_step", production_steps(protocol))
    _check_context(context)
    return _environment().get_template(template).render(
        p=protocol, stages=equilibration_stages(protocol),
        production_steps=production_steps(protocol), timeout_mark=TIMEOUT_MARK,
        checkpoint_mark=CHECKPOINT_MARK, **context)
