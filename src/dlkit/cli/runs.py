"""``dlkit runs FOLDER``: the runs in a folder as a table sorted by a metric;
``dlkit compare RUN...``: their learning curves in one picture."""

from __future__ import annotations

import re
from pathlib import Path

import click

from dlkit.cli import cli
from dlkit.cli.errors import UserError

_THRESHOLD = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(<=|>=|==|!=|<|>)\s*"
                        r"([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*")


def _runs_in(path: str, command: str) -> list:
    from dlkit.strategy.experiment import is_run, list_runs, read_run

    folder = Path(path)
    if not folder.exists():
        raise UserError(f"folder {path!r} not found", command)
    if not folder.is_dir():
        raise UserError(f"{path!r} is not a folder", command)
    errors: list[str] = []
    try:
        runs = [read_run(folder)] if is_run(folder) and command == "compare" \
            else list_runs(folder, errors)
    except ValueError as e:
        raise UserError(str(e), command) from None
    for message in errors:
        click.echo(f"dlkit {command}: warning: skipped {message}", err=True)
    return runs


@cli.command()
@click.argument("folder")
@click.option("--sort", default=None, metavar="METRIC",
              help="Sort best first by this metric (dev_accuracy, dev_loss, test_f1, "
                   "seconds...; smaller first for losses, errors and times).")
@click.option("--columns", default=None, help="Comma-separated metrics to show.")
@click.option("--satisfice", multiple=True, metavar="METRIC<=VALUE",
              help="Keep only runs meeting this threshold (repeatable), e.g. 'seconds<=10'.")
@click.option("--top", type=click.IntRange(1), default=None, help="Show the best N runs.")
def runs(folder: str, sort: str | None, columns: str | None, satisfice: tuple[str, ...],
         top: int | None) -> None:
    """List the runs in FOLDER (dlkit train runs, tuning trials) as a table."""
    from dlkit.strategy.experiment import runs_table, sort_runs
    from dlkit.strategy.selection import parse_condition

    command = "runs"
    found = _runs_in(folder, command)
    if not found:
        raise UserError(f"no runs in {folder!r} (folders with metrics.json, result.json or "
                        "history.csv)", command)
    known = sorted({k for r in found for k in r.metrics})
    kept, dropped = found, 0
    for text in satisfice:
        match = _THRESHOLD.fullmatch(text)
        if match is None:
            raise UserError(f"--satisfice: expected METRIC<=VALUE (or <, >=, >, ==, !=), got "
                            f"{text!r}", command)
        key = match.group(1)
        if key not in known:
            raise UserError(f"--satisfice: unknown metric {key!r}; the runs have {known}",
                            command)
        try:
            test = parse_condition(match.group(2) + match.group(3), key)
        except ValueError:
            raise UserError(f"--satisfice: expected METRIC<=VALUE with a number, got "
                            f"{text!r}", command) from None
        before = len(kept)
        kept = [r for r in kept if key in r.metrics and test(r.metrics[key])]
        dropped += before - len(kept)
    if sort is not None:
        if sort not in known:
            raise UserError(f"unknown metric {sort!r} for --sort; the runs have {known}",
                            command)
        kept = sort_runs(kept, sort)
    cols = None
    if columns is not None:
        cols = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in cols if c not in known]
        if unknown:
            raise UserError(f"--columns: unknown metric(s) {unknown}; the runs have {known}",
                            command)
        if sort and sort not in cols:
            cols = [sort, *cols]
    if top is not None:
        kept = kept[:top]
    if kept:
        click.echo(runs_table(kept, sort, cols))
    tail = f"{len(kept)} of {len(found)} runs"
    if dropped:
        tail += f" ({dropped} fail the thresholds)"
    if sort:
        tail += f", sorted by {sort}"
    click.echo(tail)


@cli.command()
@click.argument("runs", nargs=-1, required=True)
@click.option("--out", default="curves.png", show_default=True, help="The picture to write.")
@click.option("--metric", "metrics", multiple=True, default=("loss", "accuracy"),
              show_default=True, help="Metric(s) to draw, one panel each (repeatable).")
def compare(runs: tuple[str, ...], out: str, metrics: tuple[str, ...]) -> None:
    """Draw the learning curves of several runs (or of every run in a folder) in one
    picture: a colour per run, training solid and dev dashed."""
    from dlkit.strategy.experiment import plot_runs, runs_table

    command = "compare"
    records = []
    for path in runs:
        found = _runs_in(path, command)
        if not found:
            raise UserError(f"no runs in {path!r}", command)
        records.extend(found)
    missing = [r.name for r in records if not (r.path / "history.csv").is_file()]
    if missing:
        raise UserError(f"no history.csv in {missing}: nothing to draw", command)
    try:
        plot_runs(records, out, metrics)
    except ValueError as e:
        raise UserError(str(e), command) from None
    click.echo(runs_table(records))
    click.echo(f"wrote {out} ({len(records)} runs)")
