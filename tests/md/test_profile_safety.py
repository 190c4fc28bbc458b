"""A profile (or a folder's meta.json) is someone else's file: none of its strings runs code.

The templates write the profile's ``name`` and ``deviations`` into ``#`` comment lines
of every LAMMPS input; a line break followed by ``shell touch FILE`` used to run during
``md run``. Each test plants that payload and checks that FILE stays absent.
"""

import hashlib
import json
import shutil

import pytest
import yaml
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.errors import ConfigError
from polyhpc.md.protocol import load_protocol, render_input
from polyhpc.md.runner import run_lammps
from tests.conftest import ROOT

SMOKE = yaml.safe_load((ROOT / "workflows" / "md-smoke.yaml").read_text())


def _payload(tmp_path):
    return tmp_path / "PAYLOAD_RAN", f"x\nshell touch {tmp_path / 'PAYLOAD_RAN'} #"


def _evil_profile(tmp_path, field):
    flag, payload = _payload(tmp_path)
    data = dict(SMOKE)
    if field == "name":
        data["name"] = payload
    else:
        data["deviations"] = [*SMOKE["deviations"][:1], payload]
    path = tmp_path / f"evil-{field}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, flag


@pytest.mark.parametrize("field, named", [("name", "name"), ("deviations", "deviations[1]")])
def test_a_line_break_in_a_profile_string_is_refused_when_the_profile_is_loaded(
        tmp_path, field, named):
    path, flag = _evil_profile(tmp_path, field)
    with pytest.raises(ConfigError) as error:
        load_protocol(path)
    message = str(error.value)
    assert "\n" not in message
    assert f"{path}: {named}: " in message and "'\\n'" in message
    assert not flag.exists()


@pytest.mark.parametrize("text, bad", [
    ("swallows the next command &", "&"),     # LAMMPS joins the next line to this one
    ('opens """ a multi-line string', '"'),
    ("a ${variable}", "$"),
    ("a\ttab", "\t"),
    ("carriage\rreturn", "\r"),
    ("1.0 \u00c5", "\u00c5"),
])
def test_deviations_hold_one_line_of_plain_characters(text, bad):
    with pytest.raises(ConfigError) as error:
        load_protocol({"name": "x", "deviations": [text]})
    assert str(error.value).startswith("deviations[0]: ")
    assert f"holds {bad!r}, which is not allowed in text written into a LAMMPS input" in str(
        error.value)


def test_a_profile_name_is_one_plain_word():
    with pytest.raises(ConfigError, match="name: 'my profile' holds ' '"):
        load_protocol({"name": "my profile"})
    assert load_protocol({"name": "paper-eqfactor-0.005"}).name == "paper-eqfactor-0.005"


@pytest.mark.parametrize("args, message", [
    (["-in", "evil.in"], r"lmp_args\[0\]: '-in' is not an lmp option polyhpc passes on"),
    (["-sf", "kk", "-var", "x", "1"], r"lmp_args\[2\]: '-var' is not an lmp option"),
    (["-sf", "kk;touch", "F"], r"lmp_args\[1\]: 'kk;touch' is not one plain word"),
    (["-k on g 1"], r"lmp_args\[0\]: '-k on g 1' is not one plain word"),
])
def test_profile_lmp_arguments_are_accelerator_options_only(args, message):
    with pytest.raises(ConfigError, match=message):
        load_protocol({"name": "x", "lmp_args": args})


def test_md_run_refuses_an_injecting_profile_with_a_one_line_error(tmp_path):
    """A folder holding a system (what the payload needs to reach LAMMPS) and a bad profile."""
    built = tmp_path / "built"
    assert CliRunner().invoke(main, ["md", "build", "*CCO*", "--profile", "smoke", "--out",
                                     str(built)]).exit_code == 0
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(built / "system.lmp", run / "system.lmp")  # a data file without meta.json
    for field in ("name", "deviations"):
        path, flag = _evil_profile(tmp_path, field)
        result = CliRunner().invoke(main, ["md", "run", str(run), "--profile", str(path)])
        assert result.exit_code == 2, result.output
        assert result.output.startswith("error: ") and result.output.count("\n") == 1
        assert f"{'name' if field == 'name' else 'deviations[1]'}: " in result.output
        refused = CliRunner().invoke(main, ["md", "build", "*CCO*", "--profile", str(path),
                                            "--out", str(tmp_path / f"new-{field}")])
        assert refused.exit_code == 2 and not (tmp_path / f"new-{field}").exists()
        assert not flag.exists()
    assert not (run / "eq01.in").exists() and not (run / "records.json").exists()


def test_a_meta_json_recording_an_injecting_profile_is_refused(tmp_path):
    """``md run DIR`` without --profile reads the profile from DIR/meta.json."""
    built = tmp_path / "run"
    assert CliRunner().invoke(main, ["md", "build", "*CCO*", "--profile", "smoke", "--out",
                                     str(built)]).exit_code == 0
    flag, payload = _payload(tmp_path)
    meta = json.loads((built / "meta.json").read_text())
    settings = meta["protocol_settings"]
    settings["deviations"].append(payload)
    # consistent, as a crafted file would be: the sha256 of the settings a run computes with
    computed = {k: v for k, v in settings.items() if k not in ("replicas", "lmp_args", "build")}
    meta["protocol_sha256"] = hashlib.sha256(json.dumps(computed, sort_keys=True).encode()
                                             ).hexdigest()
    (built / "meta.json").write_text(json.dumps(meta))
    result = CliRunner().invoke(main, ["md", "run", str(built)])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert f"{built / 'meta.json'}: protocol_settings: deviations[4]: " in result.output
    assert not flag.exists() and not (built / "eq01.log").exists()


def test_strings_rendered_into_an_input_are_plain_file_names():
    paper = load_protocol(ROOT / "workflows" / "md-paper.yaml")
    for bad in ("my system.lmp", "system.lmp\nshell touch X", "$(x).lmp", "a#b"):
        with pytest.raises(ConfigError, match="data_file: .* is not a plain file name"):
            render_input("benchmark.in.j2", paper, data_file=bad, steps=10, seed=1)
    with pytest.raises(ConfigError, match="average_box_A: inf is not a finite number"):
        render_input("benchmark.in.j2", paper, data_file="system.lmp", steps=10, seed=1,
                     average_box_A=float("inf"))


@pytest.mark.lammps
def test_lmp_arguments_reach_lmp_as_words_never_through_a_shell(tmp_path):
    flag = tmp_path / "PAYLOAD_RAN"
    (tmp_path / "in.echo").write_text('print "argument: ${x}"\n')
    word = f"a;touch {flag};b$(touch {flag})"
    record = run_lammps("echo", tmp_path / "in.echo", tmp_path, extra_args=("-var", "x", word))
    assert record.ok, record.error
    assert record.command[-3:] == ("-var", "x", word)
    assert f"argument: {word}" in (tmp_path / "echo.log").read_text()
    assert not flag.exists()


@pytest.mark.lammps
def test_the_benchmark_reads_a_data_file_from_any_path(tmp_path):
    """A path with a space and a '#' is copied into the benchmark folder, not written inline."""
    from polyhpc.md.bench import run_md_benchmark

    built = tmp_path / "built"
    assert CliRunner().invoke(main, ["md", "build", "*CCO*", "--profile", "smoke", "--out",
                                     str(built)]).exit_code == 0
    odd = tmp_path / "my systems #1"
    odd.mkdir()
    shutil.copy(built / "system.lmp", odd / "peo $x.lmp")
    report = run_md_benchmark(tmp_path / "bench", load_protocol(ROOT / "workflows" /
                                                                "md-smoke.yaml"),
                              data_file=odd / "peo $x.lmp", steps=10, threads=1)
    assert report["polyhpc"]["ok"], report["polyhpc"]["error"]
    assert "read_data       bench-data.lmp" in (tmp_path / "bench" / "bench.in").read_text()


def test_md_run_passes_only_accelerator_options_to_lmp(tmp_path):
    (tmp_path / "evil.in").write_text(f"shell touch {tmp_path / 'PAYLOAD_RAN'}\n")
    result = CliRunner().invoke(main, ["md", "run", str(tmp_path), "--profile", "smoke",
                                       "--lmp-args", f"-in {tmp_path / 'evil.in'}"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "--lmp-args/md.lmp_args[0]: '-in' is not an lmp option polyhpc passes on" in \
        result.output
    assert not (tmp_path / "PAYLOAD_RAN").exists()
