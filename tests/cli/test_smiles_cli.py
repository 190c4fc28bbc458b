"""`polyhpc smiles` and the unit-taking commands refuse bad units in one line (issue 21)."""

import pytest
from click.testing import CliRunner

from polyhpc.cli import main

DISCONNECTED = "*CC.O*"
TOO_LARGE = "*" + "CCO" * 333 + "C*"  # 1,000 heavy atoms


UNITS = [
    pytest.param(DISCONNECTED, "disconnected: 2 separate molecules", id="disconnected"),
    pytest.param(TOO_LARGE, "1000 heavy atoms; polyhpc supports units of at most 64",
                 id="1000-atoms"),
]


def _run(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def _one_error_line(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


@pytest.mark.parametrize("content, why", [
    pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "a binary file (NUL bytes)",
                 id="nul-bytes"),
    pytest.param(b"*CCO*\n\xff\xfe\xfd garbage\n", "not UTF-8 text (byte 6: invalid start byte)",
                 id="not-utf8"),
])
@pytest.mark.parametrize("command", [["check"], ["check", "--stability"], ["canonical"],
                                     ["polymerize"]])
def test_a_binary_file_is_one_error_line_naming_the_file(tmp_path, content, why, command):
    path = tmp_path / "model.bin"
    path.write_bytes(content)
    line = _one_error_line(_run("smiles", *command, "--file", path))
    assert line.startswith(f"error: --file {path}: {why}")


@pytest.mark.parametrize("unit, reason", UNITS)
def test_check_and_canonical_report_the_unit_invalid_with_its_reason(unit, reason):
    for command in (["check"], ["check", "--stability"], ["canonical"]):
        result = _run("smiles", *command, unit)
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output and reason in result.output
        assert len(result.output.splitlines()) == 1


@pytest.mark.parametrize("unit, reason", UNITS)
def test_polymerize_md_types_and_md_build_refuse_the_unit_in_one_line(tmp_path, unit, reason):
    for args in (["smiles", "polymerize", unit], ["md", "types", unit],
                 ["md", "build", "--out", tmp_path / "run", unit]):
        line = _one_error_line(_run(*args))
        assert "invalid repeat unit" in line and reason in line
        assert len(line) < 300  # a long unit is quoted by its start only
