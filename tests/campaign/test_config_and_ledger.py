"""Campaign configs and the ledger: refused input is named, nothing is lost or overwritten."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from polyhpc.campaign.config import changed_keys, config_hash, identity, load_campaign_config
from polyhpc.campaign.store import LEDGER_NAME, Ledger, LedgerError
from polyhpc.cli import main
from polyhpc.errors import ConfigError


def test_every_shipped_campaign_config_loads():
    paper = load_campaign_config("paper")
    assert (paper.iterations, paper.sampling.n, paper.sampling.temperature) == (2, 50, 1.0)
    assert paper.sampling.max_tokens == 10 and paper.sampling.prompt == "11111"
    assert paper.md.profile == "paper" and paper.md.replicas == 5
    assert paper.feedback.copies_total == 4000 and paper.generator.mode == "retrain"
    assert paper.generator.train.max_iters == 6000 and paper.generator.train.preset == "gpt-nano"
    laptop = load_campaign_config("laptop")
    assert laptop.evaluator.kind == "surrogate+md" and laptop.md.profile == "smoke"
    assert load_campaign_config("smoke").iterations == 2


@pytest.mark.parametrize("text, message", [
    ("iterations: 2\ncolour: red\n", "unknown key(s) colour"),
    ("md: {replicas: 0}\n", "md.replicas: 0 is below the minimum 1"),
    ("evaluator: {kind: oracle}\n", "evaluator.kind: 'oracle' is not one of"),
    ("sampling: {n: two}\n", "sampling.n: expected an integer"),
    ("md: {profile: nope}\n", "md.profile 'nope': no such file"),
    ("reference_smiles: 'CCO'\n", "reference_smiles: expected exactly 2 end markers"),
])
def test_a_bad_config_is_refused_with_its_key_path(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_campaign_config(path)
    result = CliRunner().invoke(main, ["campaign", "run", str(path), "--dir",
                                       str(tmp_path / "d")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert not (tmp_path / "d").exists()


def test_identity_leaves_out_what_may_change_between_runs():
    base = load_campaign_config("smoke")
    moved = load_campaign_config({**_plain(base), "iterations": 5, "name": "x",
                                  "site": {"kind": "local", "max_workers": 1},
                                  "budget": {"max_hours": 1.0}})
    assert config_hash(moved) == config_hash(base)
    other = load_campaign_config({**_plain(base), "seed": 1,
                                  "md": {**_plain(base)["md"], "replicas": 3}})
    assert changed_keys(identity(base), identity(other)) == ["md.replicas", "seed"]


def _plain(config):
    from polyhpc.config import to_dict

    return to_dict(config)


def test_a_folder_of_another_campaign_is_refused_naming_the_changed_keys(tmp_path):
    from polyhpc.campaign.loop import open_ledger

    base = load_campaign_config("smoke")
    open_ledger(base, tmp_path / "c", source="text of smoke.yaml")[0].close()
    other = load_campaign_config({**_plain(base), "sampling": {**_plain(base)["sampling"],
                                                               "temperature": 1.5}})
    with pytest.raises(ConfigError, match=r"changed: sampling.temperature\)"):
        open_ledger(other, tmp_path / "c", source="edited text")
    # the stored campaign is untouched
    assert Ledger.open(tmp_path / "c").meta("config_hash") == config_hash(base)


def test_a_non_campaign_folder_is_refused(tmp_path):
    from polyhpc.campaign.loop import open_ledger

    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty and holds no campaign ledger"):
        open_ledger(load_campaign_config("smoke"), tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_campaign_keeps_its_settings_when_only_polyhpcs_defaults_moved(tmp_path):
    """Same YAML text, other library defaults: it continues with the values it started with."""
    from polyhpc.campaign.loop import open_ledger

    base = load_campaign_config("smoke")
    open_ledger(base, tmp_path / "c", source="smoke.yaml text")[0].close()
    # what a newer polyhpc would resolve the same file to: another default temperature
    moved = load_campaign_config({**_plain(base), "sampling": {**_plain(base)["sampling"],
                                                               "temperature": 1.5}})
    ledger, kept = open_ledger(moved, tmp_path / "c", source="smoke.yaml text")
    assert kept.sampling.temperature == base.sampling.temperature
    assert config_hash(kept) == config_hash(base)
    assert "sampling.temperature" in ledger.events("defaults")[0]["message"]


def test_a_corrupt_ledger_is_a_one_line_error_and_stays_untouched(tmp_path):
    folder = tmp_path / "c"
    folder.mkdir()
    garbage = b"this is not sqlite" * 100
    (folder / LEDGER_NAME).write_bytes(garbage)
    for args in (["campaign", "status", str(folder)],
                 ["campaign", "run", "smoke", "--dir", str(folder)],
                 ["campaign", "report", str(folder)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert "is corrupt or not a polyhpc ledger" in result.output
        assert result.output.count("\n") == 1
    assert (folder / LEDGER_NAME).read_bytes() == garbage


def test_a_missing_dataset_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("POLYHPC_DATA", str(tmp_path / "nothing"))
    monkeypatch.setenv("POLYHPC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("polyhpc.data.registry.urllib.request.urlopen",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    result = CliRunner().invoke(main, ["campaign", "run", "smoke", "--dir", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "dataset 'htpmd-train' not found" in result.output
    assert not (tmp_path / "d").exists()


def test_a_ledger_of_another_schema_version_is_refused(tmp_path):
    ledger = Ledger.create(tmp_path, {"config": {}})
    ledger.close()
    db = sqlite3.connect(tmp_path / LEDGER_NAME)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="schema version 99, this polyhpc reads version 2"):
        Ledger.open(tmp_path)


def test_a_failed_state_change_leaves_nothing_half_written(tmp_path):
    ledger = Ledger.create(tmp_path, {"config": {}})
    ledger.set_iteration(1)
    with pytest.raises(RuntimeError):
        with ledger.transaction() as db:
            db.execute("INSERT INTO candidates (iteration, role, smiles, canonical, status) "
                       "VALUES (1, 'candidate', '*CCO*', '*CCO*', 'sampled')")
            raise RuntimeError("killed between two statements")
    assert ledger.candidates() == []


def test_kill_minus_9_loses_no_committed_result(tmp_path):
    """A writer killed at a random moment: every result it committed is there, intact."""
    Ledger.create(tmp_path, {"config": {}}).close()
    script = textwrap.dedent(f"""
        import sys
        from polyhpc.campaign.store import Ledger
        ledger = Ledger.open({str(tmp_path)!r})
        cid = ledger.add_reference(1, "*CCO*", "*CCO*")
        for i in range(100000):
            task = ledger.ensure_task("md", 1, cid, i)
            ledger.record_result(task["id"], cid, i, "md", {{"conductivity": i * 1e-4}}, i * 1e-4)
            print(i, flush=True)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    printed = [process.stdout.readline() for _ in range(60)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed = int(printed[-1])
    results = Ledger.open(tmp_path).results()
    assert len(results) >= committed + 1
    for row in results:
        assert row["objective"] == pytest.approx(row["replica"] * 1e-4)
        assert Ledger.open(tmp_path).task(row["task_id"])["status"] == "done"


@pytest.mark.parametrize("name", ["x$(touch INJECTED)y", "with space", "a;touch INJECTED",
                                  "back`touch INJECTED`tick", "quote'd"])
def test_a_folder_name_a_shell_would_interpret_is_refused_at_once(tmp_path, name, monkeypatch):
    from click.testing import CliRunner

    from polyhpc.cli import main

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["campaign", "run", "smoke", "--dir", f"runs/{name}"])
    assert result.exit_code == 2, result.output
    assert "a campaign folder's path may hold only letters, digits" in result.output
    assert not (tmp_path / "INJECTED").exists() and not (tmp_path / "runs").exists()
