"""Thermo output of a run folder's LAMMPS logs, and a figure of the equilibration.

Every MD stage's log holds one or more thermo blocks (a header line starting
with ``Step`` and rows of numbers until ``Loop time``). :func:`read_thermo`
returns them per stage, so that density, temperature and pressure can be
followed across the 14 equilibration stages and the production run. A
production continued after an interruption has one log per segment
(``production.part1.log``, ..., ``production.log``); its rows are joined,
each segment's rows cut where the next segment took over.
"""

from __future__ import annotations

import re
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


def _segments(workdir: Path, name: str) -> list[Path]:
    """The logs of one run, oldest first (continued productions have several)."""
    parts = sorted(Path(workdir).glob(f"{name}.part*.log"),
                   key=lambda p: int(re.sub(r"\D", "", p.name.split(".part")[1]) or 0))
    last = Path(workdir) / f"{name}.log"
    return parts + ([last] if last.is_file() else [])


def _joined(logs: list[Path]) -> tuple[tuple[str, ...], np.ndarray]:
    pieces = [parse_thermo(log.read_text(errors="replace")) for log in logs]
    pieces = [(c, r) for c, r in pieces if len(r)]
    if not pieces:
        return (), np.empty((0, 1))
    columns = pieces[-1][0]
    kept = []
    for k, (cols, rows) in enumerate(pieces):
        if cols != columns:
            continue
        if k + 1 < len(pieces):  # the next segment restarted from an earlier step
            rows = rows[rows[:, 0] < pieces[k + 1][1][0, 0]]
        kept.append(rows)
    return columns, np.concatenate(kept)


def read_thermo(workdir: Path, protocol: Protocol) -> list[StageThermo]:
    """Thermo of every stage that has a log in ``workdir``, in protocol order."""
    found = []
    for name, *_ in protocol_jobs(protocol):
        columns, rows = _joined(_segments(workdir, name))
        if len(rows):
            found.append(StageThermo(name, columns, rows))
    if not found:
        raise PolyhpcError(f"{workdir} holds no LAMMPS logs with thermo output (run `md run`)")
    return found


def _label_stages(ax, spans: list[tuple[str, float, float]]) -> None:
    """Stage names above the top panel, in up to three rows so that none overlap."""
    renderer = ax.figure.canvas.get_renderer()
    row_ends = [-np.inf] * 4
    for label, x0, x1 in spans:
        text = ax.annotate(label, ((x0 + x1) / 2, 1.0), xycoords=("data", "axes fraction"),
                           xytext=(0, 2), textcoords="offset points", ha="center",
                           va="bottom", fontsize=6, color="0.3")
        for row in range(len(row_ends)):
            text.set_position((0, 2 + 8 * row))
            box = text.get_window_extent(renderer)
            if box.x0 > row_ends[row] + 2:
                row_ends[row] = box.x1
                break
        else:
            text.set_visible(False)  # too crowded: the boundary lines still show the stage


def plot_equilibration(thermo: list[StageThermo], protocol: Protocol, path: Path,
                       title: str = "") -> Path:
    """Density, temperature and pressure against simulated time over all stages.

    ``thermo`` is what :func:`read_thermo` returns for a run folder.
    """
    from polyhpc.analysis.plots import _pyplot

    stages = {stage_name(s.index): s for s in equilibration_stages(protocol)}
    plt = _pyplot()
    fig, axes = plt.subplots(3, 1, figsize=(7.5, 7), dpi=120, sharex=True)
    elapsed_ps = 0.0
    spans = []
    for stage in thermo:
        steps = stage.column("Step")
        spec = stages.get(stage.name)
        if spec is not None and spec.kind == "minimize":  # iterations, not time
            time_ps = np.full(len(steps), elapsed_ps)
        else:
            timestep = spec.timestep_fs if spec is not None else protocol.timestep_fs
            time_ps = elapsed_ps + (steps - steps[0]) * timestep / 1000.0
        color = "tab:red" if stage.name == "production" else "tab:blue"
        for ax, column in zip(axes, ("v_sysdensity", "Temp", "Press"), strict=True):
            values = stage.column(column)
            if len(values):
                ax.plot(time_ps, values, lw=1, color=color)
        for ax in axes:
            ax.axvline(elapsed_ps, color="0.85", lw=0.6)
        label = "prod" if stage.name == "production" else stage.name.replace("eq", "")
        if spec is not None and spec.kind == "minimize":
            label += "m"
        spans.append((label, elapsed_ps, float(time_ps[-1])))
        elapsed_ps = float(time_ps[-1])
    axes[0].set_ylabel("density (g/cm$^3$)")
    axes[1].set_ylabel("T (K)")
    axes[2].set_ylabel("P (atm)")
    axes[2].set_xlabel("simulated time (ps)")
    deviation = (f": {len(protocol.deviations)} deviation(s) from the paper protocol, listed "
                 "in meta.json" if protocol.deviations else ": the paper protocol")
    fig.suptitle(f"{title}\nHTP-MD equilibration (blue) and production (red), "
                 f"{protocol.name} profile{deviation}", fontsize=8,
                 color="tab:red" if protocol.deviations else "black")
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.canvas.draw()
    _label_stages(axes[0], spans)
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
