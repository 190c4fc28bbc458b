"""Bad input to ``polyhpc generate``: exit 2 naming the option, never a traceback (issue 14)."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from click.testing import CliRunner

from polyhpc.cli import main
from tests.terminal import open_terminal, read_until_closed

KNOWN = "known: htpmd-properties, htpmd-train"


@pytest.mark.parametrize("args, option", [
    (["generate", "train", "--out", "{out}", "--iters", "0"], "'--iters'"),
    (["generate", "train", "--out", "{out}", "--iters", "-5"], "'--iters'"),
    (["generate", "train", "--out", "{out}", "--dataset", "nope"], KNOWN),
    (["generate", "sample", "{ckpt}", "-n", "0"], "'-n'"),
    (["generate", "sample", "{ckpt}", "--top-k", "0"], "'--top-k'"),
    (["generate", "sample", "{ckpt}", "--temperature", "0"], "'--temperature'"),
    (["generate", "sample", "{ckpt}", "--max-draws", "0"], "'--max-draws'"),
    (["generate", "sample", "{ckpt}", "--max-tokens", "-1"], "'--max-tokens'"),
    (["generate", "sample", "{ckpt}", "--length", "0"], "'--length'"),
    (["generate", "sample", "{ckpt}", "--sa-threshold", "11"], "'--sa-threshold'"),
    (["generate", "sample", "{ckpt}", "--dataset", "nope"], KNOWN),
    (["generate", "metrics", "{ckpt}", "--dataset", "nope"], KNOWN),
    (["generate", "metrics", "{ckpt}", "-n", "0"], "'-n'"),
    (["generate", "metrics", "{ckpt}", "--top-k", "-1"], "'--top-k'"),
    (["generate", "search", "--max-iters", "0"], "'--max-iters'"),
    (["generate", "search", "--interval", "-1"], "'--interval'"),
    (["generate", "search", "-n", "1"], "'-n'"),
    (["generate", "search", "--temperatures", "0,1"], "every temperature must be > 0"),
    (["generate", "train", "--out", "{out}", "--resume"], "--resume: nothing to resume"),
])
def test_bad_option_exits_2_naming_it_and_writes_nothing(tmp_path, args, option):
    ckpt = tmp_path / "any.pt"
    ckpt.write_bytes(b"options are checked before the checkpoint is read")
    out = tmp_path / "model.pt"
    args = [a.format(ckpt=ckpt, out=out) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.lower().startswith("error")]
    assert len(errors) == 1 and option in errors[0], result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob("model-*.pt"))


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_training_writes_a_checkpoint_that_resume_continues(tmp_path, signum):
    config = tmp_path / "gen.yaml"
    config.write_text("data:\n  extra: []\ntrain:\n  max_iters: 1000000\n  batch_size: 4\n"
                      "  eval_interval: 1000000\n  checkpoint_interval: 1000000\n")
    out = tmp_path / "model.pt"
    command = [sys.executable, "-c", "from polyhpc.cli import main; main()", "generate", "train",
               "--config", str(config), "--out", str(out)]
    # stderr on a 120-column pseudo-terminal: the progress bar is drawn only on a terminal
    control, terminal = open_terminal()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=terminal,
                               stdin=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    os.close(terminal)
    stderr: list[bytes] = []
    reader = threading.Thread(target=read_until_closed, args=(control, stderr), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    try:
        # wait until the progress bar shows iterations, i.e. the loop (and its handler) runs
        while not re.search(rb"\| *[1-9]\d*/1000000", b"".join(stderr)):
            assert process.poll() is None, b"".join(stderr).decode()
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.2)
        process.send_signal(signum)
        assert process.wait(timeout=120) == 128 + signum
    finally:  # a failed wait must not leave a million-iteration training behind
        if process.poll() is None:
            process.kill()
            process.wait()
    reader.join(timeout=10)
    os.close(control)
    text = b"".join(stderr).decode()
    iteration = torch.load(out, weights_only=True)["iteration"]
    assert 20 <= iteration < 1000000
    name = signal.Signals(signum).name
    assert (f"interrupted: {name} at iteration {iteration} of 1000000: checkpoint written to "
            f"{out}; continue with --resume") in text
    assert "Traceback" not in text
    assert not list(tmp_path.glob("model-*.pt"))  # no interval snapshot was due
    result = CliRunner().invoke(main, ["generate", "train", "--config", str(config), "--out",
                                       str(out), "--resume", "--iters", str(iteration + 3)])
    assert result.exit_code == 0, result.output
    assert f"resumed from {out} at iteration {iteration}" in result.output
    assert torch.load(out, weights_only=True)["iteration"] == iteration + 3
