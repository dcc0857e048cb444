"""The "caviar" way for real: a PostgreSQL server started by the test (initdb into a temporary
folder, loopback only, run as an unprivileged user when the tests run as root), several
worker processes sharing one Optuna study, and the server stopped again.

Skipped, with the reason, where PostgreSQL's server binaries are not installed
(Debian: apt-get install -y postgresql; or point PG_BIN at the folder holding initdb).
With DLKIT_REQUIRE_POSTGRES=1 (CI) a missing server or driver fails instead of skipping.
"""

import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

REQUIRED = os.environ.get("DLKIT_REQUIRE_POSTGRES", "") not in ("", "0")


def unavailable(reason):
    """Skip, or fail where CI requires the PostgreSQL tests to run."""
    if REQUIRED:
        pytest.fail(f"DLKIT_REQUIRE_POSTGRES is set but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    import optuna
    import psycopg2  # noqa: F401
except ImportError as e:
    unavailable(f"{e.name} is not installed (pip install \"dlkit[tune]\")")

from dlkit.cli import main  # noqa: E402


def postgres_bin():
    """The folder with initdb, pg_ctl and postgres: $PG_BIN, Debian's
    /usr/lib/postgresql/<version>/bin (newest first), or PATH."""
    candidates = [os.environ.get("PG_BIN")]
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(p.split("/")[-2]) if p.split("/")[-2].isdigit()
                         else 0, reverse=True)
    which = shutil.which("initdb")
    candidates.append(os.path.dirname(which) if which else None)
    for folder in candidates:
        if folder and all(os.access(os.path.join(folder, b), os.X_OK)
                          for b in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A throwaway server on 127.0.0.1; yields its SQLAlchemy URL."""
    folder = postgres_bin()
    if folder is None:
        unavailable("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: install "
                    "them (Debian: apt-get install -y postgresql) or set PG_BIN")
    as_user = {}
    base = tempfile.mkdtemp(prefix="dlkit-pg-")
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            shutil.rmtree(base)
            unavailable("running as root and there is no 'nobody' user to run PostgreSQL as")
        os.chown(base, nobody.pw_uid, nobody.pw_gid)
        as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
    data, log, port = os.path.join(base, "data"), os.path.join(base, "server.log"), free_port()

    def run(*args, check=True):
        done = subprocess.run([os.path.join(folder, args[0]), *args[1:]], cwd=base,
                              capture_output=True, text=True, timeout=120, **as_user)
        if check and done.returncode != 0:
            tail = open(log).read()[-2000:] if os.path.exists(log) else ""
            raise RuntimeError(f"{args[0]} failed ({done.returncode}): {done.stderr}\n{tail}")
        return done

    started = False
    try:
        run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
            "--no-sync")
        run("pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o",
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=50", "start")
        started = True
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started and run("pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop",
                           check=False).returncode != 0:
            try:  # stop the server this fixture started, by the pid it wrote
                with open(os.path.join(data, "postmaster.pid")) as f:
                    os.kill(int(f.readline()), signal.SIGQUIT)
            except (OSError, ValueError):
                pass
        shutil.rmtree(base, ignore_errors=True)


def finished_trials(study):
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return [t for t in study.trials if t.state in states]


def check_shared_study(study, n_trials, n_workers):
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers)), "duplicate trial numbers"
    done = finished_trials(study)
    assert len(done) == n_trials
    others = [t for t in study.trials if t not in done]
    assert all(t.user_attrs.get("surplus") for t in others), others  # at most a raced slot
    assert len(others) < n_workers
    workers = {t.user_attrs["worker"] for t in done}
    assert len(workers) == n_workers, workers  # every worker did part of the work
    return done


def test_dlkit_tune_with_two_worker_processes(postgres, tmp_path, capfd):
    config = {"name": "pg-moons",
              "train": {"dataset": "moons", "examples": 300, "model": "mlp", "hidden": "16",
                        "optimizer": "momentum", "epochs": 20, "batch_size": 50},
              "search": {"trials": 12, "metric": "dev_loss", "sampler": "tpe", "seed": 0,
                         "pruner": "none", "workers": 2, "startup_trials": 4},
              "space": {"lr": {"type": "log", "low": 1e-3, "high": 3},
                        "beta": {"type": "one_minus_log", "low": 0.8, "high": 0.99},
                        "units": {"type": "int", "low": 2, "high": 32, "log": True}}}
    path = tmp_path / "tune.json"
    path.write_text(json.dumps(config))
    start = time.perf_counter()
    assert main(["tune", str(path), "--storage", postgres, "--out", str(tmp_path / "out")]) == 0
    out = capfd.readouterr().out
    assert "[worker 0]" in out and "[worker 1]" in out and "best: trial" in out
    study = optuna.load_study(study_name="pg-moons", storage=postgres)
    done = check_shared_study(study, 12, 2)
    assert len(list((tmp_path / "out").glob("trial-*"))) >= 12
    assert min(t.value for t in done) < 0.5
    # running it again finds the study complete: nothing more is trained
    assert main(["tune", str(path), "--storage", postgres, "--out", str(tmp_path / "out")]) == 0
    assert "12 of 12 trials done" in capfd.readouterr().out
    assert len(optuna.load_study(study_name="pg-moons", storage=postgres).trials) == \
        len(study.trials)
    assert time.perf_counter() - start < 120


WORKER = textwrap.dedent('''
    import math, pathlib, sys, time
    import dlkit.tune as tune

    space = tune.SearchSpace(lr=tune.LogUniform(1e-4, 1), beta=tune.OneMinusLog(0.9, 0.999))

    def objective(p, trial):
        time.sleep(0.1)
        return (math.log10(p["lr"]) + 2) ** 2 + (math.log10(1 - p["beta"]) + 2) ** 2

    # start together (as machines of a cluster would), whatever each one's import time
    ready = pathlib.Path(sys.argv[3])
    (ready / sys.argv[2]).touch()
    deadline = time.time() + 60
    while len(list(ready.iterdir())) < int(sys.argv[4]) and time.time() < deadline:
        time.sleep(0.02)
    tune.search(objective, space, 8, direction="minimize", storage=sys.argv[1],
                study_name="independent", sampler="tpe", seed=int(sys.argv[2]))
''')


def test_independent_workers_started_by_hand_share_one_study(postgres, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    ready = tmp_path / "ready"
    ready.mkdir()
    procs = [subprocess.Popen([sys.executable, str(script), postgres, str(seed), str(ready),
                               "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    results = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err
    study = optuna.load_study(study_name="independent", storage=postgres)
    done = check_shared_study(study, 8, 2)
    params = [tuple(sorted(t.params.items())) for t in done]
    assert len(set(params)) == len(params)  # the workers drew different points
