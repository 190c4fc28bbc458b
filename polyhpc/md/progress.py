"""Following a LAMMPS run while it goes: the simulated time its thermo output has reached.

LAMMPS prints a thermo row every ``thermo_every_steps`` (the first column is
the step), always one for the first and the last step of a run, and ends the
block with ``Loop time``. :class:`ThermoProgress` reads those rows from the
lines :func:`polyhpc.md.runner.run_lammps` passes to ``on_line`` and says how
far the run is: simulated ps of its total for MD, iterations of the limit for a
minimization. :func:`polyhpc.md.lammps.run_protocol` reports a
:class:`Progress` per row to its ``on_progress`` callback; the CLI draws it as
a progress bar.

The equilibration's step counter runs on from one stage to the next (stages
5-14 count from the reset after stage 4), so a stage's progress counts from
the first step it prints; a production counts from step 0 (a continued one
starts at its restart's step and shows what is already done).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Progress", "ThermoProgress"]


@dataclass(frozen=True)
class Progress:
    """Where one LAMMPS run of a protocol stands.

    Attributes
    ----------
    name : str
        The run (``eq01`` .. ``eq14``, ``production``).
    index, count : int
        Its place among the protocol's runs (1-based) and their number.
    kind : str
        ``minimize``, ``nvt``, ``npt`` or ``production``.
    done, total : float
        Simulated ps done and to do (MD), or minimizer iterations done and the limit.
    unit : str
        ``ps`` or ``it``.
    step : int or None
        The last step LAMMPS printed (``None`` before the first row).
    """

    name: str
    index: int
    count: int
    kind: str
    done: float
    total: float
    unit: str
    step: int | None = None

    @property
    def fraction(self) -> float:
        """``done / total`` in [0, 1] (0 for a total of 0)."""
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0


class ThermoProgress:
    """Turns the screen output of one LAMMPS run into :class:`Progress` reports.

    Parameters
    ----------
    name, index, count, kind
        As in :class:`Progress`.
    total : float
        The run's simulated ps (MD) or its iteration limit (minimization).
    timestep_fs : float or None
        Time step of the run; ``None`` for a minimization (progress in iterations).
    first_step : int or None
        The step the run counts from; ``None``: the first step it prints.
    """

    def __init__(self, name: str, index: int, count: int, kind: str, total: float,
                 timestep_fs: float | None, first_step: int | None = None):
        self.name, self.index, self.count, self.kind = name, index, count, kind
        self.total = float(total)
        self.timestep_fs = timestep_fs
        self.first_step = first_step
        self.step: int | None = None
        self._in_thermo = False

    @property
    def unit(self) -> str:
        """``ps`` for MD, ``it`` for a minimization."""
        return "it" if self.timestep_fs is None else "ps"

    def report(self) -> Progress:
        """Where the run stands now."""
        if self.step is None or self.first_step is None:
            done = 0.0
        elif self.timestep_fs is None:
            done = float(self.step - self.first_step)
        else:
            done = (self.step - self.first_step) * self.timestep_fs / 1000.0
        return Progress(self.name, self.index, self.count, self.kind,
                        min(max(done, 0.0), self.total) if self.total > 0 else max(done, 0.0),
                        self.total, self.unit, self.step)

    def feed(self, line: str) -> Progress | None:
        """Read one line LAMMPS printed; a :class:`Progress` when it was a thermo row."""
        words = line.split()
        if not words:
            return None
        if words[0] == "Step":
            self._in_thermo = True
            return None
        if words[0] == "Loop":
            self._in_thermo = False
            return None
        if not self._in_thermo:
            return None
        try:
            step = int(words[0])
        except ValueError:
            return None  # a WARNING between rows
        if self.first_step is None:
            self.first_step = step
        self.step = step
        return self.report()
