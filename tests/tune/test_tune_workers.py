"""Tuning workers live and die with their parent: SIGTERM, SIGINT, SIGHUP and SIGKILL of the
parent leave no worker running, their trials are marked failed and re-run by the next run,
and a worker whose trial another run finished stops with one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import dlkit as dl

optuna = pytest.importorskip("optuna")
pytest.importorskip("sklearn")
if not sys.platform.startswith("linux"):
    pytest.skip("process checks read /proc", allow_module_level=True)

from dlkit.cli import main  # noqa: E402
from dlkit.tune import workers  # noqa: E402
from dlkit.tune.search import requeue_interrupted  # noqa: E402

SRC = str(Path(dl.__file__).resolve().parents[1])
ENV = {**os.environ, "PYTHONPATH": SRC, "OPENBLAS_NUM_THREADS": "1"}
TrialState = optuna.trial.TrialState


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie, read from /proc (no psutil)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def worker_pids(marker: str) -> list[int]:
    """Processes whose command line holds ``--as-worker`` and ``marker``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"--as-worker" in cmd and marker.encode() in cmd and alive(int(entry)):
            pids.append(int(entry))
    return pids


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def tune_config(path: Path, epochs: int) -> Path:
    path.write_text(json.dumps({
        "name": "orphans",
        "train": {"dataset": "moons", "examples": 120, "model": "mlp", "hidden": "4",
                  "optimizer": "sgd", "epochs": epochs, "batch_size": 60},
        "search": {"trials": 3, "metric": "dev_loss", "sampler": "random", "seed": 0,
                   "pruner": "none"},
        "space": {"lr": {"type": "log", "low": 1e-3, "high": 1}}}))
    return path


def running_trials(url: str) -> list:
    try:
        study = optuna.load_study(study_name="orphans", storage=url)
    except Exception:  # the tables are not there yet
        return []
    return study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killing_dlkit_tune_leaves_no_worker_and_a_rerun_completes(tmp_path, sig, capsys):
    out = tmp_path / "study"
    url = f"sqlite:///{(out / 'study.db').resolve()}"
    slow = tune_config(tmp_path / "slow.json", epochs=100_000)  # trials that never end
    fast = tune_config(tmp_path / "fast.json", epochs=2)
    parent = subprocess.Popen([sys.executable, "-m", "dlkit.cli", "tune", str(slow), "--out",
                               str(out), "--workers", "2"], env=ENV, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(running_trials(url)) == 2, 60, "two running trials")
        pids = worker_pids(str(out))
        assert len(pids) == 2
        # a rerun while those workers live leaves their trials to them and does its share
        assert main(["tune", str(fast), "--out", str(out)]) == 0
        assert "re-running" not in capsys.readouterr().out
        assert all(alive(p) for p in pids) and len(running_trials(url)) == 2
        parent.send_signal(sig)
        wait_for(lambda: not any(alive(p) for p in pids), 10, "the workers to end")
        _, err = parent.communicate(timeout=20)
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in worker_pids(str(out)):
            os.kill(p, signal.SIGKILL)
    assert parent.returncode == -sig
    assert "Traceback" not in err
    if sig == signal.SIGTERM:
        assert "dlkit tune: stopped by SIGTERM: ended 2 worker(s)" in err
        assert err.count("stopped by SIGTERM: its running trial is marked failed") == 2
    study = optuna.load_study(study_name="orphans", storage=url)
    stopped = study.get_trials(deepcopy=False)[:2]
    assert [t.state for t in stopped] == [TrialState.FAIL] * 2  # marked by the workers
    assert all(t.user_attrs["interrupted"] for t in stopped)
    # a rerun re-runs the two interrupted trials and completes the study
    assert main(["tune", str(fast), "--out", str(out), "--trials", "3"]) == 0
    assert "re-running interrupted trial(s) [0, 1]" in capsys.readouterr().out
    trials = optuna.load_study(study_name="orphans", storage=url).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 3
    retried = {t.user_attrs.get("retry_of"): t.params for t in complete}
    assert retried[0] == stopped[0].params and retried[1] == stopped[1].params


# ---- the library, with plain worker processes ---------------------------------------------

WORKER = textwrap.dedent("""
    import os, sys, time
    from dlkit.tune.workers import worker_guard
    with worker_guard("[w%s] " % sys.argv[1]):
        open(sys.argv[2], "w").write(str(os.getpid()))
        time.sleep(120)
""")

PARENT = textwrap.dedent("""
    import sys
    from dlkit.tune.workers import WorkersStopped, die_by, run_workers
    cmds = [[sys.executable, sys.argv[1], str(k), sys.argv[2] + str(k)] for k in range(2)]
    try:
        run_workers(cmds, grace=5)
    except WorkersStopped as e:
        print("parent:", e, file=sys.stderr, flush=True)
        die_by(e.signum)
""")


def start_parent(tmp_path: Path) -> tuple[subprocess.Popen, list[int]]:
    (tmp_path / "worker.py").write_text(WORKER)
    (tmp_path / "parent.py").write_text(PARENT)
    prefix = str(tmp_path / "pid")
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py"),
                               str(tmp_path / "worker.py"), prefix], env=ENV,
                              stderr=subprocess.PIPE, text=True)
    files = [Path(prefix + str(k)) for k in range(2)]
    wait_for(lambda: all(f.exists() and f.read_text() for f in files), 30, "two workers")
    return parent, [int(f.read_text()) for f in files]


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT, signal.SIGKILL])
def test_run_workers_ends_workers_on_every_way_the_parent_goes(tmp_path, sig):
    parent, pids = start_parent(tmp_path)
    try:
        assert all(os.getpgid(p) == p for p in pids)  # each in its own process group
        parent.send_signal(sig)
        wait_for(lambda: not any(alive(p) for p in pids), 10, "the workers to end")
        _, err = parent.communicate(timeout=20)
    finally:
        if parent.poll() is None:
            parent.kill()
        for p in pids:
            if alive(p):
                os.kill(p, signal.SIGKILL)
    assert parent.returncode == -sig
    assert "Traceback" not in err
    if sig != signal.SIGKILL:
        assert f"parent: stopped by {signal.Signals(sig).name}: ended 2 worker(s)" in err
        assert "[w0] stopped by SIGTERM" in err and "[w1] stopped by SIGTERM" in err


def test_run_workers_returns_exit_codes():
    codes = workers.run_workers([[sys.executable, "-c", "import sys; sys.exit(k)".replace(
        "k", str(k))] for k in range(3)])
    assert codes == [0, 1, 2]


# ---- a rerun while old workers still live -------------------------------------------------


def test_requeue_leaves_trials_of_live_workers_alone(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
        trial.set_user_attr("worker", f"{socket.gethostname()}:{sleeper.pid}")
        assert requeue_interrupted(study) == []  # its worker still runs it
        assert study.trials[0].state == TrialState.RUNNING
    finally:
        sleeper.kill()
        sleeper.wait()
    assert requeue_interrupted(study) == [0]  # now its worker is gone
    assert requeue_interrupted(study) == []  # queued once only
    trials = study.get_trials()
    assert trials[0].state == TrialState.FAIL and trials[1].user_attrs["retry_of"] == 0


def test_a_worker_whose_trial_another_run_finished_stops_with_one_line(tmp_path, capsys):
    tune = pytest.importorskip("dlkit.tune")
    url = f"sqlite:///{tmp_path / 'study.db'}"
    other = optuna.load_study  # "another run": its own connection to the study

    def objective(params, trial):
        study = other(study_name="dlkit", storage=url)
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        trial.report(1.0, 0)  # the worker goes on: its trial is no longer its own
        return 1.0

    space = tune.SearchSpace(lr=tune.LogUniform(1e-3, 1))
    with pytest.raises(SystemExit) as e:
        with workers.worker_guard("[worker 0] "):
            tune.search(objective, space, 2, direction="minimize", storage=url,
                        sampler="random", requeue=False)
    assert e.value.code == 0
    err = capsys.readouterr().err
    assert "[worker 0] stopping: another run of this study finished or failed its trial" in err
    assert "Traceback" not in err


def test_shared_storages_requeue_stopped_trials_but_not_running_ones(tmp_path):
    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=url)
    dist = {"x": optuna.distributions.FloatDistribution(0, 1)}
    stopped, running = study.ask(dist), study.ask(dist)
    stopped.set_user_attr("interrupted", True)
    study.tell(stopped, state=TrialState.FAIL)
    running.set_user_attr("worker", "another-machine:123")
    assert requeue_interrupted(study, running=False) == [0]  # another machine may run 1
    assert study.trials[1].state == TrialState.RUNNING
    assert requeue_interrupted(study) == [1]  # local storage: nobody else can be running it


def test_an_interruption_wrapped_by_other_code_still_stops_with_one_line(capsys):
    # a signal during an import can surface as a RuntimeError raised from WorkerInterrupted
    # (a class body's __set_name__ wraps what it raises): still one line, exit 128 + signal
    with pytest.raises(SystemExit) as e:
        with workers.worker_guard("[worker 1] "):
            try:
                raise workers.WorkerInterrupted(signal.SIGTERM)
            except workers.WorkerInterrupted as inner:
                raise RuntimeError("Error calling __set_name__") from inner
    assert e.value.code == 128 + signal.SIGTERM
    err = capsys.readouterr().err
    assert "[worker 1] stopped by SIGTERM" in err and "Traceback" not in err
