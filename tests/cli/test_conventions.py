"""The command line's conventions (issue 22.4): help, examples, -q, standard input, units.

Commands come from click's own tree, so a command added later is held to the
same rules. Progress bars are checked on a real pseudo-terminal (``pty``),
where tqdm draws them, and on a pipe, where it must not.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import polyhpc.cli
from polyhpc.cli import main
from tests.terminal import on_a_terminal

POLYHPC = str(Path(sys.executable).with_name("polyhpc"))
CLI_DIR = Path(polyhpc.cli.__file__).parent


def _tree(group: click.Group = main, path: tuple[str, ...] = ("polyhpc",)):
    yield path, group
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _tree(command, (*path, name))
        else:
            yield (*path, name), command


def _help(path, command) -> str:
    with click.Context(command, info_name=" ".join(path)) as ctx:
        return command.get_help(ctx)


COMMANDS = [pytest.param(path, command, id=" ".join(path[1:]) or "polyhpc")
            for path, command in _tree()]
LEAVES = [p for p in COMMANDS if not isinstance(p.values[1], click.Group)]


@pytest.mark.parametrize(("path", "command"), COMMANDS)
def test_help_has_no_control_characters_and_every_option_says_what_it_does(path, command):
    text = _help(path, command)
    assert "\\b" not in text and "\b" not in text, text  # click's no-rewrap marker leaked
    undocumented = [p.opts[0] for p in command.params
                    if isinstance(p, click.Option) and not p.hidden and not p.help]
    assert undocumented == []


@pytest.mark.parametrize(("path", "command"), LEAVES)
def test_every_command_shows_examples_of_itself(path, command):
    lines = _help(path, command).splitlines()
    start = next(i for i, line in enumerate(lines) if "example" in line.lower())
    examples = [line.strip() for line in lines[start + 1:] if " ".join(path) in line]
    assert examples, f"{' '.join(path)}: no example line runs the command itself"


def test_the_top_level_help_documents_exit_codes_quiet_and_completion():
    text = CliRunner().invoke(main, ["--help"]).output
    for code, meaning in (("0", "success"), ("2", "bad input or usage"),
                          ("3", "a run that failed or stopped with work left"),
                          ("130", "interrupted")):
        assert any(line.split()[:1] == [code] and meaning in line for line in text.splitlines())
    assert "-q, --quiet" in text
    assert 'eval "$(_POLYHPC_COMPLETE=bash_source polyhpc)"' in text


def test_completion_script_is_what_the_help_says_to_eval():
    """The documented variable really makes click print a bash completion function."""
    done = subprocess.run([POLYHPC], env={**os.environ, "_POLYHPC_COMPLETE": "bash_source"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "_polyhpc_completion()" in done.stdout and "complete -o nosort" in done.stdout


def _emit_calls():
    for path in sorted(CLI_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "_emit"):
                yield path.name, node


def test_every_json_output_of_the_cli_goes_through_emit_with_a_units_map():
    calls = list(_emit_calls())
    assert len(calls) > 30
    missing = [f"{name}:{node.lineno}" for name, node in calls
               if "units" not in {k.arg for k in node.keywords}]
    assert missing == []
    # no second way to print JSON: outside base.py, json.dumps only writes files
    printed = [f"{path.name}:{number}" for path in sorted(CLI_DIR.glob("*.py"))
               if path.name != "base.py"
               for number, line in enumerate(path.read_text().splitlines(), 1)
               if "json.dumps(" in line and "write_text" not in line]
    assert printed == []


@pytest.mark.parametrize(("args", "key", "unit"), [
    (["smiles", "polymerize", "*OCC*"], "molar_mass_g_per_mol", "g/mol"),
    (["smiles", "check", "*OCC*"], "sa_score", "1"),
    (["smiles", "canonical", "*OCC*"], None, None),
    (["smiles", "rules"], None, None),
    (["data", "list"], None, None),
    (["data", "info"], "high_threshold_mS_per_cm", "mS/cm"),
    (["campaign", "plan", "laptop", "--rate", "4"], "md_ns_total", "ns"),
])
def test_json_outputs_carry_a_units_map_naming_real_units(args, key, unit):
    result = CliRunner().invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert isinstance(payload["units"], dict)
    if key is not None:
        assert payload["units"][key] == unit
    if isinstance(payload.get("rows"), list):  # a list output is {rows, units}
        assert payload["rows"]


def test_file_dash_reads_standard_input_like_a_file(tmp_path):
    units = "*OCCOCC*\n*COC*\n*CC(C)O*\n"
    (tmp_path / "units.txt").write_text(units)
    from_file = CliRunner().invoke(main, ["smiles", "canonical", "--file",
                                          str(tmp_path / "units.txt"), "--json"])
    from_stdin = CliRunner().invoke(main, ["smiles", "canonical", "--file", "-", "--json"],
                                    input=units)
    assert from_stdin.exit_code == 0, from_stdin.output
    rows = json.loads(from_stdin.stdout)["rows"]
    assert json.loads(from_file.stdout)["rows"] == rows
    # the first two are one polymer (PEO), written from different atoms: one canonical SMILES
    assert [r["smiles"] for r in rows] == ["*OCCOCC*", "*COC*", "*CC(C)O*"]
    assert rows[0]["canonical"] == rows[1]["canonical"] != rows[2]["canonical"]


def test_binary_standard_input_is_one_error_line():
    result = subprocess.run([POLYHPC, "smiles", "check", "--file", "-"],
                            input=b"\x89PNG\r\n\x1a\n\x00\x00", capture_output=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == ("error: --file -: a binary file (NUL bytes), not "
                                              "text with one SMILES per line")


def _on_a_terminal(args: list[str]) -> str:
    """Everything ``polyhpc ARGS`` shows on a pseudo-terminal (stdout and stderr)."""
    returncode, _, shown = on_a_terminal([POLYHPC, *args], stdout_too=True)
    assert returncode == 0
    return shown


@pytest.fixture(scope="module")
def many_units(tmp_path_factory) -> Path:
    """600 units: enough for `smiles canonical` to draw its progress bar (from 500)."""
    path = tmp_path_factory.mktemp("units") / "units.txt"
    path.write_text("".join(f"*{'C' * (1 + i % 30)}O{'C' * (i // 30)}*\n" for i in range(600)))
    return path


def test_a_terminal_shows_progress_and_quiet_hides_it(many_units):
    shown = _on_a_terminal(["smiles", "canonical", "--file", str(many_units)])
    assert "canonicalize" in shown and "600/600" in shown
    quiet = _on_a_terminal(["-q", "smiles", "canonical", "--file", str(many_units)])
    assert "canonicalize" not in quiet
    assert "# 600 units" in quiet  # the result itself is still printed


def test_no_progress_bar_is_drawn_into_a_pipe(many_units):
    done = subprocess.run([POLYHPC, "smiles", "canonical", "--file", str(many_units)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0
    assert done.stderr == ""
    assert done.stdout.splitlines()[-1].startswith("# 600 units")
