"""Every numeric option of every command refuses what it cannot use, before any work starts.

The commands come from click's own tree (``polyhpc.cli.main``, through every
group), so a command added later is walked too. Each numeric option (click
INT/FLOAT types, ranges, or a number as default) is fed a zero, a negative,
a non-number and, for floats, NaN. Unless the value is in ``ACCEPTED``
below, click must refuse it while parsing (a declared ``IntRange`` /
``FloatRange``, never a check deep inside the command), and the command
must exit 2 with one error line naming the option and no traceback.
Refusing at parse time also means an unusable value never starts a build, a
training or a LAMMPS run.

A value in ``ACCEPTED`` is legitimate; its test runs the command and checks
that it does what the value means, not just that it exits 0.
"""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from polyhpc.cli import main

VALUES = {"int": ("0", "-1", "abc"), "float": ("0", "-1", "abc", "nan")}


def _commands(group: click.Group = main, path: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


def _kind(param) -> str | None:
    """'int' or 'float' for a numeric option, else None."""
    if not isinstance(param, click.Option) or param.is_flag or param.count:
        return None
    if isinstance(param.type, click.types.FloatParamType):
        return "float"
    if isinstance(param.type, click.types.IntParamType):
        return "int"
    default = param.default
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return "int" if isinstance(default, int) else "float"
    return None


def _valid(param, folder) -> str:
    """A value click accepts for a required parameter (existing paths are created)."""
    kind = param.type
    if isinstance(kind, click.Path):
        path = folder / f"{param.name}-arg"
        if kind.exists and not kind.file_okay:
            path.mkdir(exist_ok=True)
        elif kind.exists:
            path.write_text("placeholder\n")
        return str(path)
    if isinstance(kind, click.Choice):
        return str(kind.choices[0])
    if isinstance(kind, (click.IntRange, click.FloatRange)):
        return str(kind.min if kind.min is not None else 1)
    if isinstance(kind, (click.types.IntParamType, click.types.FloatParamType)):
        return "1"
    return "*CCO*"  # text arguments: a repeat unit, a dataset or profile name


def _arguments(command, option, value, folder) -> list[str]:
    """The option under test first, then every required parameter with a valid value."""
    args = [option.opts[0], value]
    for param in command.params:
        if param is option or not param.required:
            continue
        if isinstance(param, click.Argument):
            args += [_valid(param, folder)] * (param.nargs if param.nargs > 0 else 1)
        else:
            args += [param.opts[0], _valid(param, folder)]
    return args


# ------------------------------------------------------------------ accepted values
# (command, option, value) that are legitimate; each maps to the check that the command
# does what the value means.
ACCEPTED = {
    ("bench md", "--production-ps", "0"): "no_production_after_equilibration",  # the default
    ("campaign plan", "--gpus", "0"): "plan_on_cpu_cores",  # 0 GPUs: a CPU-core plan
    ("campaign plan", "--train-hours", "0"): "plan_without_training_time",
    ("generate metrics", "--seed", "0"): "seed_zero_is_a_seed",
    ("generate sample", "--seed", "0"): "seed_zero_is_a_seed",
    ("generate sample", "--max-tokens", "0"): "zero_tokens_means_no_limit",
    ("md build", "--seed", "0"): "md_seed_zero_builds_replica_zero",
    ("md replicas", "--seed", "0"): "md_seed_zero_builds_replica_zero",
    ("md run", "--seed", "0"): "velocity_seed_zero_seeds_each_stage",  # stage k draws 0 + k
    ("surrogate select", "--beta", "0"): "ucb_with_beta_zero_ranks_by_mean",
    ("surrogate select", "--max-similarity", "0"): "max_similarity_zero_picks_disjoint_units",
}

# ------------------------------------------------------------- owned by other areas
# Cases that fail today and are being fixed by the engineers who own those commands;
# strict: once fixed they XPASS and fail, so the entry must go.
IN_PROGRESS: dict = {}


def _cases():
    refused, accepted = [], []
    for path, command in _commands():
        for option in command.params:
            kind = _kind(option)
            if kind is None:
                continue
            for value in VALUES[kind]:
                key = (" ".join(path), option.opts[0], value)
                case_id = " ".join(key)
                if key in ACCEPTED:
                    accepted.append(pytest.param(path, option.name, value, ACCEPTED[key],
                                                 id=case_id))
                    continue
                marks = ([pytest.mark.xfail(strict=True, reason=IN_PROGRESS[key])]
                         if key in IN_PROGRESS else [])
                refused.append(pytest.param(path, option.name, value, id=case_id, marks=marks))
    return refused, accepted


REFUSED, ACCEPTED_CASES = _cases()


def _command(path):
    command = main
    for name in path:
        command = command.commands[name]
    return command


def _option(command, name):
    return next(p for p in command.params if p.name == name)


def test_the_walk_finds_the_commands_and_options_it_should():
    paths = {" ".join(path) for path, _ in _commands()}
    assert {"analyze", "bench analysis", "data info", "generate sample", "md build",
            "smiles polymerize", "surrogate select"} <= paths
    ids = {case.id for case in REFUSED}
    assert {"analyze --max-cluster 0", "analyze --temperature nan", "analyze --cutoff -1",
            "analyze --frame-interval abc", "generate sample --top-k 0",
            "md build --molality -1"} <= ids
    stale = set(IN_PROGRESS) - {tuple(case.id.rsplit(" ", 2)) for case in REFUSED}
    assert not stale, f"IN_PROGRESS lists cases the walk no longer makes: {stale}"
    assert len(ACCEPTED_CASES) == len(ACCEPTED)


@pytest.mark.parametrize("path, name, value", REFUSED)
def test_numeric_option_refuses_a_value_it_cannot_use(tmp_path, path, name, value):
    command = _command(path)
    option = _option(command, name)
    args = _arguments(command, option, value, tmp_path)
    try:  # parsing alone: the command's body never runs
        command.make_context(" ".join(path), list(args))
    except click.BadParameter as refused:
        assert refused.param is option, f"refused {refused.param}, not {option.opts}"
    else:
        pytest.fail(f"{' '.join(path)} {option.opts[0]} accepts {value!r}: declare its range "
                    "with click.IntRange/FloatRange (or list the value in ACCEPTED)")
    result = CliRunner().invoke(main, [*path, *args])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit) and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1, result.output
    assert any(f"'{opt}'" in errors[0] for opt in option.opts + option.secondary_opts), errors
    assert not any(tmp_path.glob("**/*.json")), "wrote results before refusing"


# ----------------------------------------------------------- checks of accepted values
def _json(result):
    """The command's JSON document; a list output's rows (it is printed as {rows, units})."""
    assert "Traceback" not in result.output, result.output
    payload = json.loads(result.stdout[result.stdout.index("{"):])
    assert isinstance(payload["units"], dict)
    return payload["rows"] if set(payload) == {"rows", "units"} else payload


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A generator trained for two iterations: enough to exercise sampling."""
    folder = tmp_path_factory.mktemp("generator")
    config = folder / "tiny.yaml"
    config.write_text("train:\n  preset: gpt-nano\n  max_iters: 2\n  eval_interval: 1\n"
                      "  checkpoint_interval: 2\n")
    result = CliRunner().invoke(main, ["generate", "train", "--config", str(config), "--out",
                                       str(folder / "model.pt")])
    assert result.exit_code == 0, result.output
    return folder / "model.pt"


@pytest.fixture(scope="module")
def surrogate_files(tmp_path_factory):
    """A small surrogate (library-trained on 300 HTP-MD polymers) and 40 candidates."""
    from polyhpc.data import load_htpmd_properties
    from polyhpc.surrogate.model import SurrogateConfig, train_surrogate

    folder = tmp_path_factory.mktemp("surrogate")
    frame = load_htpmd_properties()
    train_surrogate(frame.iloc[:300], SurrogateConfig(members=2, max_iter=20)).save(
        folder / "model.npz")
    (folder / "candidates.txt").write_text("\n".join(frame["smiles"].iloc[300:340]) + "\n")
    return folder / "model.npz", folder / "candidates.txt"


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def check_plan_on_cpu_cores(tmp_path, **_):
    cpu = _json(_run("campaign", "plan", "laptop", "--rate", "10", "--gpus", "0", "--json"))
    gpu = _json(_run("campaign", "plan", "laptop", "--rate", "10", "--gpus", "1", "--json"))
    assert cpu["gpus"] == 0 and cpu["resource_unit"] == "core-hours"
    assert gpu["resource_unit"] == "GPU-hours" and cpu["resource_hours"] > 0


def check_plan_without_training_time(tmp_path, **_):
    none = _json(_run("campaign", "plan", "laptop", "--rate", "10", "--train-hours", "0",
                      "--json"))
    some = _json(_run("campaign", "plan", "laptop", "--rate", "10", "--train-hours", "1",
                      "--json"))
    # one hour of training per iteration, and nothing else, separates the two plans
    assert some["wall_hours"] - none["wall_hours"] == pytest.approx(none["iterations"] * 1.0)
    assert none["md_ns_total"] == some["md_ns_total"] > 0


def check_seed_zero_is_a_seed(tmp_path, command, checkpoint, **_):
    if command == "generate metrics":
        runs = [_run("generate", "metrics", checkpoint, "-n", "20", "--seed", s, "--json")
                for s in (0, 0)]
    else:
        runs = [_run("generate", "sample", checkpoint, "-n", "2", "--max-draws", "64",
                     "--seed", s, "--json") for s in (0, 0, 1)]
        assert _json(runs[2]) != _json(runs[0])  # a different seed draws differently
    assert _json(runs[0]) == _json(runs[1])  # seed 0 reproduces itself: it is not "random"


def check_zero_tokens_means_no_limit(tmp_path, checkpoint, **_):
    limited = _json(_run("generate", "sample", checkpoint, "-n", "2", "--max-draws", "64",
                         "--json"))
    unlimited = _json(_run("generate", "sample", checkpoint, "-n", "2", "--max-draws", "64",
                           "--max-tokens", "0", "--json"))
    assert unlimited["config"]["max_tokens"] is None and unlimited["draws"] == 64
    # only rows that never end within the model's block size are still too long
    assert unlimited["rejected"].get("too long", 0) < limited["rejected"]["too long"]


def check_md_seed_zero_builds_replica_zero(tmp_path, command, **_):
    from polyhpc.md.lammps import replica_seeds

    build = _run("md", "build", "*CCO*", "--profile", "smoke", "--seed", "0", "--out",
                 tmp_path / "build")
    assert build.exit_code == 0, build.output
    meta = json.loads((tmp_path / "build" / "meta.json").read_text())
    assert meta["provenance"]["seeds"] == replica_seeds(0, 0) != replica_seeds(1, 0)
    if command == "md build":
        again = _run("md", "build", "*CCO*", "--profile", "smoke", "--seed", "0", "--out",
                     tmp_path / "again")
        assert again.exit_code == 0
        assert (tmp_path / "again" / "system.lmp").read_bytes() == \
            (tmp_path / "build" / "system.lmp").read_bytes()
        return
    replicas = _run("md", "replicas", "*CCO*", "-n", "1", "--profile", "smoke", "--seed", "0",
                    "--out", tmp_path / "reps", "--json")
    outcome = _json(replicas)[0]
    assert outcome["ok"] and outcome["seeds"] == replica_seeds(0, 0), outcome
    assert (tmp_path / "reps" / "rep0" / "system.lmp").read_bytes() == \
        (tmp_path / "build" / "system.lmp").read_bytes()


def check_velocity_seed_zero_seeds_each_stage(tmp_path, **_):
    import re

    assert _run("md", "build", "*CCO*", "--profile", "smoke", "--seed", "0", "--out",
                tmp_path / "run").exit_code == 0
    result = _run("md", "run", tmp_path / "run", "--profile", "smoke", "--seed", "0")
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["velocity_seed"] == 0 and meta["velocity_seeds"]
    for stage, seed in meta["velocity_seeds"].items():
        assert seed == 0 + int(stage.removeprefix("eq")) > 0  # LAMMPS needs seeds >= 1
        text = (tmp_path / "run" / f"{stage}.in").read_text()
        assert re.findall(r"velocity\s+all create \S+ (\d+)", text) == [str(seed)]


def check_no_production_after_equilibration(tmp_path, **_):
    report = _json(_run("bench", "md", "--compare-ff", "--profile", "smoke", "--eqfactor",
                        "0.0002", "--production-ps", "0", "--threads", "1", "--workdir",
                        tmp_path, "--json"))
    assert report["production_ps"] == 0.0 and set(report["runs"]) == {"pcff", "pcff+"}
    for run in report["runs"].values():
        assert run["ok"] and run["density_g_cm3"] > 0, run
        assert not [key for key in run if "conductivity" in key]
    for dump in tmp_path.glob("**/traj.lammpstrj"):  # at most the starting frame
        assert dump.read_text().count("ITEM: TIMESTEP") <= 1


def check_ucb_with_beta_zero_ranks_by_mean(tmp_path, surrogate_files, **_):
    model, candidates = surrogate_files
    picks = _json(_run("surrogate", "select", model, "--file", candidates, "-k", "5",
                       "--beta", "0", "--max-similarity", "1", "--json"))
    means = [p["surrogate_log10_conductivity"] for p in picks]
    assert len(picks) == 5 and means == sorted(means, reverse=True)
    assert [p["acquisition"] for p in picks] == pytest.approx(means, rel=1e-12)


def check_max_similarity_zero_picks_disjoint_units(tmp_path, surrogate_files, **_):
    from rdkit import DataStructs

    from polyhpc.chem import morgan_fingerprint

    model, candidates = surrogate_files
    picks = _json(_run("surrogate", "select", model, "--file", candidates, "-k", "5",
                       "--max-similarity", "0", "--json"))
    fingerprints = [morgan_fingerprint(p["canonical"], canonical=True) for p in picks]
    assert picks
    for i, fingerprint in enumerate(fingerprints):
        for other in fingerprints[:i]:
            assert DataStructs.TanimotoSimilarity(fingerprint, other) == 0.0


_LAMMPS = {"velocity_seed_zero_seeds_each_stage", "no_production_after_equilibration",
           "md_seed_zero_builds_replica_zero"}
_FIXTURES = {"seed_zero_is_a_seed": "checkpoint", "zero_tokens_means_no_limit": "checkpoint",
             "ucb_with_beta_zero_ranks_by_mean": "surrogate_files",
             "max_similarity_zero_picks_disjoint_units": "surrogate_files"}


@pytest.mark.slow
@pytest.mark.parametrize("path, name, value, check", ACCEPTED_CASES)
def test_accepted_value_does_what_it_means(request, tmp_path, path, name, value, check):
    command = _command(path)
    option = _option(command, name)
    context = command.make_context(" ".join(path),
                                   _arguments(command, option, value, tmp_path))
    assert context.params[name] == option.type.convert(value, option, context)
    if check in _LAMMPS:
        request.applymarker(pytest.mark.lammps)
    extra = {}
    if check in _FIXTURES:
        extra[_FIXTURES[check]] = request.getfixturevalue(_FIXTURES[check])
    globals()[f"check_{check}"](tmp_path, command=" ".join(path), **extra)
