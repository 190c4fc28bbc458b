"""Thermo output of a run folder's LAMMPS logs, and a figure of the equilibration.

Every MD stage's log holds one or more thermo blocks (a header line starting
with ``Step`` and rows of numbers until ``Loop time``). :func:`read_thermo`
returns them per stage with the elapsed simulated time, so that density,
temperature and pressure can be followed across the 14 equilibration stages
and the production run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from polyhpc.errors import PolyhpcError
from polyhpc.md.lammps import protocol_jobs, stage_name
from polyhpc.md.protocol import Protocol, equilibration_stages


@dataclass(frozen=True)
class StageThermo:
    """Thermo rows of one LAMMPS run."""

    name: str
    columns: tuple[str, ...]
    rows: np.ndarray  # (n, len(columns))

    def column(self, name: str) -> np.ndarray:
        """One thermo column (empty when the stage did not print it)."""
        return self.rows[:, self.columns.index(name)] if name in self.columns \
            else np.empty(0)


def parse_thermo(text: str) -> tuple[tuple[str, ...], np.ndarray]:
    """Columns and rows of every thermo block of a log (blocks with the same header)."""
    columns: tuple[str, ...] = ()
    rows: list[list[float]] = []
    inside = False
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["Step"]:
            columns, inside = tuple(parts), True
            continue
        if inside:
            if parts[:1] == ["WARNING:"]:  # LAMMPS warns in the middle of thermo output
                continue
            if len(parts) != len(columns):
                inside = False
                continue
            try:
                rows.append([float(v) for v in parts])
            except ValueError:
                inside = False
    return columns, np.array(rows, dtype=float).reshape(-1, len(columns) or 1)


def read_thermo(workdir: Path, protocol: Protocol) -> list[StageThermo]:
    """Thermo of every stage that has a log in ``workdir``, in protocol order."""
    found = []
    for name, *_ in protocol_jobs(protocol):
        log = Path(workdir) / f"{name}.log"
        if log.is_file():
            columns, rows = parse_thermo(log.read_text(errors="replace"))
            if len(rows):
                found.append(StageThermo(name, columns, rows))
    if not found:
        raise PolyhpcError(f"{workdir} holds no LAMMPS logs with thermo output (run `md run`)")
    return found


def plot_equilibration(thermo: list[StageThermo], protocol: Protocol, path: Path,
                       title: str = "") -> Path:
    """Density, temperature and pressure against simulated time over all stages.

    ``thermo`` is what :func:`read_thermo` returns for a run folder.
    """
    from polyhpc.analysis.plots import _pyplot

    stages = {stage_name(s.index): s for s in equilibration_stages(protocol)}
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), dpi=120, sharex=True)
    elapsed_ps = 0.0
    for stage in thermo:
        steps = stage.column("Step")
        spec = stages.get(stage.name)
        if spec is not None and spec.kind == "minimize":  # iterations, not time
            time_ps = np.full(len(steps), elapsed_ps)
        else:
            timestep = spec.timestep_fs if spec is not None else protocol.timestep_fs
            time_ps = elapsed_ps + (steps - steps[0]) * timestep / 1000.0
        for ax, column in zip(axes, ("v_sysdensity", "Temp", "Press"), strict=True):
            values = stage.column(column)
            if len(values):
                ax.plot(time_ps, values, lw=1)
        for ax in axes:
            ax.axvline(elapsed_ps, color="0.85", lw=0.6)
        axes[0].annotate(stage.name.replace("eq", ""), (elapsed_ps, 1.0),
                         xycoords=("data", "axes fraction"), fontsize=6, va="bottom")
        elapsed_ps = float(time_ps[-1])
    axes[0].set_ylabel("density (g/cm$^3$)")
    axes[1].set_ylabel("T (K)")
    axes[2].set_ylabel("P (atm)")
    axes[2].set_xlabel("simulated time (ps)")
    fig.suptitle(f"{title}{': ' if title else ''}HTP-MD equilibration and production "
                 f"({protocol.name} profile)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
