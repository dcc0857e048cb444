"""The dlkit command, as a user runs it."""

import subprocess
import sys

import pytest

from dlkit.cli import main


def test_train_default_prints_test_accuracy(capsys):
    assert main(["train", "--epochs", "60"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert accuracy > 0.8


@pytest.mark.parametrize("args,message", [
    (["train", "--hidden", "4,x"], "--hidden"),
    (["train", "--activation", "swish-ish"], "--activation"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--no-such-option"], "no-such-option"),
    (["no-such-command"], "no-such-command"),
])
def test_bad_options_are_one_line_errors_with_exit_code_2(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err and "Traceback" not in err


def test_installed_command_runs_as_a_subprocess():
    done = subprocess.run([sys.executable, "-m", "dlkit.cli", "train", "--epochs", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "test accuracy" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "dlkit.cli", "train", "--lr", "abc"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
