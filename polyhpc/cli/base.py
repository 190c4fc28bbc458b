"""The root ``polyhpc`` group and the helpers every command uses.

Each command parses its arguments, calls one library function, and prints
text or ``--json``. Errors the library raises on purpose (``PolyhpcError``)
become one-line messages and a non-zero exit code.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import click

from polyhpc import __version__
from polyhpc.errors import PolyhpcError


def _non_finite(value) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return any(isinstance(v, float) and not math.isfinite(v) for v in values)


class _Command(click.Command):
    """A command whose float options refuse NaN and infinity.

    ``click.FloatRange`` lets ``nan`` through (every comparison with NaN is
    false) and an unbounded ``inf``; no option of polyhpc means either.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for param in self.get_params(ctx):
            value = ctx.params.get(param.name)
            if isinstance(param.type, click.types.FloatParamType) and _non_finite(value):
                raise click.BadParameter(f"{value} is not a finite number", ctx=ctx,
                                         param=param)
        return rest


class _Group(click.Group):
    """A click group that shows library errors as one line, never a traceback.

    Its commands are :class:`_Command` and its subgroups are ``_Group`` too,
    so every command of the tree gets the same treatment.
    """

    command_class = _Command
    group_class = type

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except PolyhpcError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(getattr(exc, "exit_code", 2))
        except KeyboardInterrupt:
            click.echo("interrupted; results written so far are kept", err=True)
            ctx.exit(130)


def _finite(value):
    """JSON has no NaN: missing numbers become null."""
    from polyhpc.fileio import finite_json

    return finite_json(value)


def _emit(payload, as_json: bool, text: str) -> None:
    click.echo(json.dumps(_finite(payload), indent=2, default=float) if as_json else text)


def _read_smiles(smiles: tuple[str, ...], file: Path | None) -> list[str]:
    items = list(smiles)
    if file is not None:
        for line in file.read_text().splitlines():
            token = line.split(",")[0].split()[0] if line.strip() else ""
            if token and not token.startswith("#") and token.lower() != "smiles":
                items.append(token)
    if not items:
        raise PolyhpcError("no SMILES given: pass them as arguments or with --file")
    return items


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="polyhpc")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """polyhpc: AI-driven polymer-electrolyte discovery, laptop to SLURM cluster.

    A conditional minGPT model proposes polymer repeat units (SMILES with two
    '*' ends), LAMMPS molecular dynamics evaluates their Li+ conductivity
    (HTP-MD protocol), a Numba trajectory analysis computes cluster
    Nernst-Einstein conductivities, and the best polymers feed back into the
    model (Khajeh et al., Digital Discovery 2025, DOI 10.1039/d4dd00293h).

    Data files are found through $POLYHPC_DATA, then ~/.cache/polyhpc.
    Every command takes --help; most take --json for machine-readable output.
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


