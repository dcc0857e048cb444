"""The benchmark harness's parsing and table functions on a fake result (no timing, no run)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


@pytest.fixture(scope="module")
def run_all():
    saved = list(sys.path)
    spec = importlib.util.spec_from_file_location("benchmarks_run_all", RUN_ALL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.path[:] = saved  # the harness puts benchmarks/ on the path for its children
    return module


def fake_records():
    recs = []
    for threads, scale in ((1, 1.0), (2, 0.5)):
        recs.append({"workload": "lenet", "side": "dlkit", "threads": threads,
                     "samples": [0.020 * scale, 0.030 * scale, 0.025 * scale]})
        recs.append({"workload": "lenet", "side": "torch", "threads": threads,
                     "samples": [0.010 * scale, 0.012 * scale]})
        recs.append({"workload": "lenet", "side": "torch", "threads": threads,
                     "samples": [0.011 * scale]})  # a second round of the same side
    recs.append({"workload": "autograd", "side": "dlkit", "threads": 1, "samples": [4e-6]})
    return recs


def test_parse_child_output_takes_the_last_json_line(run_all):
    out = "some warning\n" + json.dumps({"workload": "mlp", "samples": [1.0]}) + "\n\n"
    assert run_all.parse_child_output(out) == {"workload": "mlp", "samples": [1.0]}
    with pytest.raises(ValueError, match="printed nothing"):
        run_all.parse_child_output("  \n")


def test_summarize_pools_rounds_and_takes_ratio_of_minima(run_all):
    fig = run_all.summarize(fake_records())
    one = fig["lenet"]["1"]
    assert one["dlkit"]["min_s"] == pytest.approx(0.020)
    assert one["dlkit"]["median_s"] == pytest.approx(0.025)
    assert one["torch"]["n"] == 3  # both torch rounds pooled
    assert one["torch"]["median_s"] == pytest.approx(0.011)
    assert one["ratio_min"] == pytest.approx(2.0)
    assert fig["lenet"]["2"]["dlkit"]["min_s"] == pytest.approx(0.010)
    assert "ratio_min" not in fig["autograd"]["1"]  # one side only: no ratio


def test_markdown_table_has_a_row_per_workload_and_thread_columns(run_all):
    fig = run_all.summarize(fake_records())
    table = run_all.markdown_table(fig, [1, 2]).splitlines()
    assert table[0].startswith("| benchmark | dlkit, 1 thread | PyTorch, 1 thread | ratio, 1 th")
    assert "ratio, 2 threads" in table[0]
    assert table[1].count("---") == len(table[0].split("|")) - 2
    lenet = next(row for row in table if row.startswith("| LeNet-5"))
    assert "20.0 (25.0) ms" in lenet and "10.0 (11.0) ms" in lenet
    assert lenet.count("**2.00**") == 2  # the ratio of the minima at 1 and at 2 threads
    autograd = next(row for row in table if row.startswith("| autograd"))
    assert "4.00 (4.00) us/op" in autograd and " - " in autograd  # missing side shown as '-'
    assert not any(row.startswith("| MLP") for row in table)  # not measured: no row


def test_child_env_sets_every_thread_variable(run_all):
    env = run_all.child_env(2)
    assert all(env[var] == "2" for var in run_all.THREAD_VARS)
    assert env["PYTHONPATH"].split(":")[0].endswith("src")


def test_print_report_reprints_a_results_file(run_all, capsys):
    result = {"date": "2026-11-29T07:00:00", "machine": {"cpu": "Fake CPU", "cores": 2},
              "versions": {"python": "3.11", "numpy": "2.4", "torch": "2.13"},
              "blas": ["openblas 0.3 (SkylakeX, 1 threads)"], "rounds": 3, "block": 10,
              "threads": [1], "figures": run_all.summarize(fake_records())}
    run_all.print_report(json.loads(json.dumps(result)))  # as read back from the JSON file
    out = capsys.readouterr().out
    assert "Fake CPU, 2 cores" in out and "SkylakeX" in out and "3 rounds x 10 calls" in out
    assert "| LeNet-5" in out and "ratio, 2 threads" not in out


def test_source_revision_names_the_measured_commit(run_all):
    revision = run_all.source_revision()
    if revision is None:
        pytest.skip("not a git checkout")
    commit = revision.split("+")[0]
    assert len(commit) >= 7 and all(c in "0123456789abcdef" for c in commit)
