"""Everything the CLI prints as data: rows as a table, CSV or JSON, and the demo's report.

Commands and the demo return rows or records; this module alone turns them into text on
stdout, so nothing below the CLI imports it back (the demo used to import `cli.emit`).
Output streams: `rows` may be a lazy iterator over millions of rows, written a batch at a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import logging
import os
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click
import tabulate as tabulate_module
from tabulate import tabulate

if TYPE_CHECKING:
    from banwatch.demo import DemoResult

logger = logging.getLogger(__name__)

FETCH_CHUNK = 1000  # rows fetched from DuckDB and written per step: memory stays flat
FORMATS = ("table", "csv", "json")
CELL_WIDTH = 60  # a table cell longer than this is cut with "…"
_GAP = "  "  # between table columns (tabulate's "simple" format)


def jsonable(value: Any) -> Any:
    """A value as JSON and CSV carry it: dates in ISO 8601, bytes as their length."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def cell(value: Any, width: int = CELL_WIDTH) -> str:
    """A value on one table line: whitespace collapsed, cut at `width` characters."""
    text = "" if value is None else str(jsonable(value))
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def batches(rows: Iterable[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    it = iter(rows)
    while batch := list(itertools.islice(it, FETCH_CHUNK)):
        yield batch


def _emit_json(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """The same text as `json.dumps(list_of_objects, indent=2)`, written one batch at a time."""
    opened = False
    for batch in batches(rows):
        objects = [
            textwrap.indent(
                json.dumps(dict(zip(columns, map(jsonable, r), strict=True)), indent=2), "  "
            )
            for r in batch
        ]
        click.echo(("[\n" if not opened else ",\n") + ",\n".join(objects), nl=False)
        opened = True
    click.echo("\n]" if opened else "[]")


def _emit_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for batch in batches(rows):
        writer.writerows([[jsonable(v) for v in r] for r in batch])


def _tabulate(cells: list[list[str]], columns: Sequence[str]) -> str:
    """tabulate's "simple" table with headers as wide as their text, not two wider (the tables
    read as they did before tabulate). MIN_PADDING is a module global of tabulate's, so it is
    set for this call only and other users of tabulate in the process are left as they were."""
    saved, tabulate_module.MIN_PADDING = tabulate_module.MIN_PADDING, 0
    try:
        return tabulate(cells, headers=list(columns), tablefmt="simple", disable_numparse=True)
    finally:
        tabulate_module.MIN_PADDING = saved


def _emit_table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """tabulate lays out the first batch (all of a list), so output starts at once; later
    batches of a stream keep the first batch's column widths."""
    it = iter(rows)
    first = list(it) if isinstance(rows, Sequence) else list(itertools.islice(it, FETCH_CHUNK))
    cells = [[cell(v) for v in r] for r in first]
    # every cell is text, left-aligned, exactly as `cell` wrote it
    click.echo(_tabulate(cells, columns))
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    for batch in batches(it):
        lines = (
            _GAP.join(cell(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
            for r in batch
        )
        click.echo("\n".join(lines))


_EMITTERS = {"json": _emit_json, "csv": _emit_csv, "table": _emit_table}


def emit(columns: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> None:
    """Print rows in the chosen format to stdout, streaming: `rows` may be a lazy iterator."""
    try:
        _EMITTERS.get(fmt, _emit_table)(columns, rows)
        sys.stdout.flush()
    except BrokenPipeError:
        # `banwatch sql --all ... | head`: the reader left; stop quietly instead of a traceback.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        raise SystemExit(1) from None


# ---------------------------------------------------------------- the demo


def demo_serving(articles: int, outlets: int, base_url: str) -> None:
    """The demo's first line (stderr): what the sample newsroom serves, and where."""
    click.echo(
        f"sample newsroom: {articles} articles from {outlets} outlets at {base_url}", err=True
    )


def demo_report(result: DemoResult) -> None:
    """The demo's summary: the pass, the events, the candidates, and where everything is."""
    click.echo(result.summary.line())
    click.echo()
    emit(result.events.columns, result.events.rows, "table")
    if result.candidates.rows:
        click.echo(
            f"\ncandidates awaiting review (confidence below alerts.min_confidence = "
            f"{result.min_confidence}, not emailed):"
        )
        emit(result.candidates.columns, result.candidates.rows, "table")
    click.echo()
    click.echo(f"warehouse: {result.warehouse} (read-only snapshot: {result.snapshot})")
    click.echo(f"alert emails: {result.emails} saved in {result.mail_dir}")
    click.echo(f'query it:  banwatch sql --config {result.config} "SELECT * FROM ban_events"')
