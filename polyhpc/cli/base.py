"""The root ``polyhpc`` group and the helpers every command uses.

Each command parses its arguments, calls one library function, and prints
text or ``--json``. Errors the library raises on purpose (``PolyhpcError``)
become one-line messages and a non-zero exit code.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

import click

from polyhpc import __version__
from polyhpc.errors import PolyhpcError


def _non_finite(value) -> bool:
    values = value if isinstance(value, (tuple, list)) else (value,)
    return any(isinstance(v, float) and not math.isfinite(v) for v in values)


class _Command(click.Command):
    """A command whose float options refuse NaN and infinity, with examples.

    ``examples=(...)`` (lines of shell, comments aligned by the author) are
    printed verbatim under "Examples:" at the end of ``--help``.

    ``click.FloatRange`` lets ``nan`` through (every comparison with NaN is
    false) and an unbounded ``inf``; no option of polyhpc means either.
    """

    def __init__(self, *args, examples: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.examples = tuple(examples)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command's examples, verbatim (one per line, with their comments)."""
        if self.examples:
            with formatter.section("Examples"):
                for line in self.examples:
                    formatter.write(f"{'':>{formatter.current_indent}}{line}\n")
        super().format_epilog(ctx, formatter)

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


def _emit(payload, as_json: bool, text: str, *, units: dict[str, str]) -> None:
    """Print ``text``, or ``payload`` as JSON with its ``units`` map.

    ``units`` names the unit of each dimensioned field (``{}`` when none has
    one). A list payload becomes ``{"rows": [...], "units": {...}}``; a dict
    keeps its keys and gains (or extends) ``units``.
    """
    if not as_json:
        click.echo(text)
        return
    if isinstance(payload, dict):
        payload = {**payload, "units": {**payload.get("units", {}), **units}}
    else:
        payload = {"rows": list(payload), "units": dict(units)}
    click.echo(json.dumps(_finite(payload), indent=2, default=float))


def _quiet() -> bool:
    """Whether ``polyhpc -q`` was given (no progress bars, no notes)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and (ctx.find_root().obj or {}).get("quiet"))


def _note(message: str) -> None:
    """A remark for the person at the terminal, on stderr; silent under ``-q``."""
    if not _quiet():
        click.echo(message, err=True)


def _bar(**kwargs):
    """A tqdm progress bar on stderr, drawn on a terminal only and never under ``-q``.

    ``disable=True`` in ``kwargs`` (``--json``, a small file) also turns it off.
    """
    from tqdm import tqdm

    off = kwargs.pop("disable", False) or _quiet()
    return tqdm(file=sys.stderr, disable=True if off else None, **kwargs)


def _read_text_input(file: Path, what: str = "one SMILES per line") -> str:
    """The text of ``--file`` (``-``: standard input); a binary file is refused in one line."""
    name = "-" if str(file) == "-" else str(file)
    data = sys.stdin.buffer.read() if name == "-" else file.read_bytes()
    if b"\0" in data[:8192]:  # a NUL byte in the first 8 KiB: git's test for binary
        raise PolyhpcError(f"--file {name}: a binary file (NUL bytes), not text with {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolyhpcError(f"--file {name}: not UTF-8 text (byte {exc.start}: {exc.reason}); "
                           f"expected {what}") from None


def _read_smiles(smiles: tuple[str, ...], file: Path | None) -> list[str]:
    items = list(smiles)
    if file is not None:
        for line in _read_text_input(file).splitlines():
            token = line.split(",")[0].split()[0] if line.strip() else ""
            if token and not token.startswith("#") and token.lower() != "smiles":
                items.append(token)
    if not items:
        raise PolyhpcError("no SMILES given: pass them as arguments or with --file (- for "
                           "standard input)")
    return items


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="polyhpc")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars, notes or log messages below errors; results and errors "
                   "are still printed.")
@click.pass_context
def main(ctx: click.Context, verbose: int, quiet: bool) -> None:
    """polyhpc: AI-driven polymer-electrolyte discovery, laptop to SLURM cluster.

    A conditional minGPT model proposes polymer repeat units (SMILES with two
    '*' ends), LAMMPS molecular dynamics evaluates their Li+ conductivity
    (HTP-MD protocol), a Numba trajectory analysis computes cluster
    Nernst-Einstein conductivities, and the best polymers feed back into the
    model (Khajeh et al., Digital Discovery 2025, DOI 10.1039/d4dd00293h).

    Data files are found through $POLYHPC_DATA, then ~/.cache/polyhpc.
    Every command takes --help (with examples); most take --json for
    machine-readable output with a units map; --file - reads standard input.
    Results go to standard output, progress, notes and errors to standard
    error.

    \b
    Exit codes:
      0    success
      1    an unexpected error (a bug: please report the traceback); smiles
           check and smiles canonical also exit 1 when a unit is invalid
      2    bad input or usage: an unknown option, a value out of range, a
           missing or damaged file, a config error
      3    a run that failed or stopped with work left (time limit, failed
           replicas): what finished is kept, the same command continues
      130  interrupted (Ctrl-C); results written so far are kept

    \b
    Shell completion (bash; zsh_source in ~/.zshrc, fish_source for fish):
      eval "$(_POLYHPC_COMPLETE=bash_source polyhpc)"   # in ~/.bashrc
    """  # noqa: D301 (\b, a real backspace, keeps click from rewrapping a block)
    ctx.obj = {"quiet": quiet}
    level = logging.ERROR if quiet else [logging.WARNING, logging.INFO,
                                         logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
