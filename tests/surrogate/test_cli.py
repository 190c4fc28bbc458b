import json

import click
import pytest
from click.testing import CliRunner

from polyhpc.cli import main
from polyhpc.data import load_htpmd_properties
from polyhpc.surrogate.model import train_surrogate


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A surrogate trained on 300 HTP-MD polymers and a file of 30 other candidates."""
    folder = tmp_path_factory.mktemp("surrogate-cli")
    frame = load_htpmd_properties()
    train_surrogate(frame.iloc[:300]).save(folder / "model.npz")
    (folder / "candidates.txt").write_text("\n".join(frame["smiles"].iloc[300:330]) + "\n")
    return folder / "model.npz", folder / "candidates.txt"


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _one_error_line(result, option):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error")
              or line.startswith("error")]
    assert len(errors) == 1 and option in errors[0], result.output


def test_select_refuses_k_zero_instead_of_returning_everything(files):
    model, candidates = files
    _one_error_line(_run("surrogate", "select", model, "--file", candidates, "-k", "0"), "'-k'")
    picks = json.loads(_run("surrogate", "select", model, "--file", candidates, "-k", "4",
                            "--json").output)
    assert len(picks["rows"]) == 4
    assert picks["units"]["acquisition"] == picks["units"]["surrogate_log10_conductivity"] == \
        "log10 S/cm"


def test_select_refuses_a_similarity_outside_zero_to_one(files):
    model, candidates = files
    for value in ("5", "-0.1", "nan"):
        _one_error_line(_run("surrogate", "select", model, "--file", candidates,
                             "--max-similarity", value), "'--max-similarity'")


def test_predict_says_why_a_unit_has_no_prediction_in_text_and_json(files):
    model, _ = files
    text = _run("surrogate", "predict", model, "*CCO*", "*CC[Si](C)(C)O*", "C1CC1")
    assert text.exit_code == 0, text.output
    assert "no prediction for 2 unit(s):" in text.output
    assert "*CC[Si](C)(C)O*: invalid repeat unit: element Si is outside C F H N O P S" \
        in text.output
    assert "C1CC1: invalid repeat unit: expected exactly 2 end markers '*', found 0" \
        in text.output
    report = json.loads(_run("surrogate", "predict", model, "*CCO*", "*CC[Si](C)(C)O*",
                             "--json").output)
    assert report["units"]["surrogate_conductivity_S_per_cm"] == "S/cm"
    rows = report["rows"]
    assert rows[0]["reason"] is None and rows[0]["surrogate_log10_conductivity"] < 0
    assert rows[1]["surrogate_log10_conductivity"] is None
    assert rows[1]["reason"] == "invalid repeat unit: element Si is outside C F H N O P S"


def test_predict_and_select_read_units_from_standard_input_with_file_dash(files):
    model, candidates = files
    units = candidates.read_text()
    for command in (["predict", model], ["select", model, "-k", "3"]):
        result = CliRunner().invoke(main, ["surrogate", *map(str, command), "--file", "-",
                                           "--json"], input=units)
        assert result.exit_code == 0, result.output
        from_file = _run("surrogate", *command, "--file", candidates, "--json")
        assert json.loads(result.stdout) == json.loads(from_file.stdout)
    binary = CliRunner().invoke(main, ["surrogate", "predict", str(model), "--file", "-"],
                                input=b"*CCO*\0\n")
    assert binary.exit_code == 2 and "Traceback" not in binary.output
    assert binary.output.startswith("error: --file -: ") and "binary" in binary.output


def test_predict_exits_1_when_no_unit_could_be_predicted(files):
    model, _ = files
    result = _run("surrogate", "predict", model, "nonsense")
    assert result.exit_code == 1
    assert "nonsense: invalid repeat unit: unparsable SMILES 'nonsense'" in result.output


def test_predict_without_a_model_says_how_to_train_one(tmp_path):
    result = _run("surrogate", "predict", tmp_path / "surrogate.npz", "*CCO*")
    _one_error_line(result, "not found")
    assert f"polyhpc surrogate train --out {tmp_path / 'surrogate.npz'}" in result.output


def test_train_refuses_results_in_mS_per_cm(tmp_path):
    extra = tmp_path / "campaign-md.csv"
    extra.write_text("smiles,conductivity_mS_per_cm\n*OCCOC*,1.515\n")
    result = _run("surrogate", "train", "--out", tmp_path / "s.npz", "--add", extra)
    _one_error_line(result, "only in mS/cm")
    assert not (tmp_path / "s.npz").exists()


def _surrogate_commands():
    group = main.commands["surrogate"]
    return [(name, command) for name, command in group.commands.items()]


@pytest.mark.parametrize("name, command", _surrogate_commands())
def test_every_surrogate_option_explains_itself_and_numbers_declare_a_range(name, command):
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        assert param.help, f"surrogate {name} {param.opts[0]} has no help text"
        if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
            assert isinstance(param.type, (click.IntRange, click.FloatRange)), param.opts


def test_surrogate_help_lists_the_models_one_per_line():
    lines = _run("surrogate", "--help").output.splitlines()
    assert any(line.strip().startswith("gp   Gaussian process") for line in lines)
    assert any(line.strip().startswith("gbt  the first surrogate") for line in lines)
