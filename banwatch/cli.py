"""The `banwatch` command: run a pass, look at events, query the warehouse, run the demo.

Every `BanwatchError` becomes one line on stderr that says how to fix it, and exit code 1 (2 for
usage errors, as click does). Analysts' commands (`events`, `sql`) read the read-only snapshot
that each pass publishes, so they never block the scheduled writer.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import click

from banwatch import __version__
from banwatch.config import ENV_CONFIG, Settings, load_settings
from banwatch.errors import BanwatchError

logger = logging.getLogger("banwatch")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    # Third-party chatter stays at WARNING unless --debug.
    if level.upper() != "DEBUG":
        for name in (
            "httpx",
            "httpcore",
            "trafilatura",
            "sentence_transformers",
            "urllib3",
            "htmldate",
        ):
            logging.getLogger(name).setLevel(logging.WARNING)


def verbosity_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--log-level / --quiet / --debug, shared by every subcommand."""

    @click.option(
        "--log-level",
        type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
        default="WARNING",
        show_default=True,
        help="Log level for messages on stderr.",
    )
    @click.option("--quiet", "-q", is_flag=True, help="Only errors; no progress lines.")
    @click.option("--debug", is_flag=True, help="Same as --log-level DEBUG.")
    @functools.wraps(fn)
    def wrapper(*args: Any, log_level: str, quiet: bool, debug: bool, **kwargs: Any) -> Any:
        level = "DEBUG" if debug else ("ERROR" if quiet else log_level)
        _setup_logging(level)
        click.get_current_context().meta["quiet"] = quiet
        try:
            return fn(*args, **kwargs)
        except BanwatchError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def config_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "-c",
        "config_path",
        envvar=ENV_CONFIG,
        default="config/banwatch.toml",
        show_default=True,
        type=click.Path(dir_okay=False),
        help=f"The TOML config file (or ${ENV_CONFIG}).",
    )(fn)


def output_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--json / --csv / --table: a table on a terminal, machine formats for scripts."""
    for option in reversed(
        [
            click.option(
                "--json", "fmt", flag_value="json", help="Output JSON (a list of objects)."
            ),
            click.option("--csv", "fmt", flag_value="csv", help="Output CSV with a header row."),
            click.option(
                "--table", "fmt", flag_value="table", default=True, help="Output a table (default)."
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _cell(value: Any, width: int = 60) -> str:
    text = "" if value is None else str(_jsonable(value))
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def emit(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str) -> None:
    """Print rows in the chosen format to stdout."""
    if fmt == "json":
        click.echo(
            json.dumps([dict(zip(columns, map(_jsonable, r), strict=True)) for r in rows], indent=2)
        )
    elif fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_jsonable(v) for v in r] for r in rows])
    else:
        cells = [[_cell(v) for v in r] for r in rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
        click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        click.echo("  ".join("-" * w for w in widths))
        for r in cells:
            click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def _progress_printer() -> Callable[[str, dict[str, Any]], None]:
    """Stage-by-stage progress on stderr with elapsed time; `--quiet` hides it."""
    if click.get_current_context().meta.get("quiet"):
        return lambda stage, counts: None
    started = time.perf_counter()

    def report(stage: str, counts: dict[str, Any]) -> None:
        shown = ", ".join(f"{k} {v}" for k, v in counts.items())
        click.echo(f"[{time.perf_counter() - started:6.1f}s] {stage:<8} {shown}", err=True)

    return report


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="banwatch")
def cli() -> None:
    """banwatch: which governments have just banned or restricted which apps?

    Polls news feeds, extracts articles, groups coverage into stories, detects government
    app-ban events, loads everything into DuckDB and emails one alert per new event.
    """


@cli.command()
@config_option
@click.option(
    "--replay",
    is_flag=True,
    help="Treat each article as first seen when it was published (backfills, evaluation).",
)
@verbosity_options
def run(config_path: str, replay: bool) -> None:
    """Run one pass over the configured feeds.

    Exits 0 when the pass completed, even if some feeds or articles failed: those are recorded
    in the warehouse (tables feeds and articles) and counted in the summary line.
    """
    from banwatch.pipeline import run_pass

    settings = load_settings(config_path)
    summary = run_pass(settings, replay=replay, progress=_progress_printer())
    click.echo(summary.line())


def _open_snapshot(settings: Settings):
    from warehouse.store import open_reader

    return open_reader(settings.warehouse.snapshot)


EVENT_LIST_COLUMNS = (
    "event_id, announced_on, jurisdiction, country, subdivision, app, scope, action, "
    "source_count, round(confidence, 2) AS confidence, url"
)


@cli.command()
@config_option
@click.option(
    "--limit", default=50, show_default=True, help="At most this many events, newest first."
)
@click.option(
    "--all", "include_historical", is_flag=True, help="Include historical (not alerted) events."
)
@click.option(
    "--candidates",
    is_flag=True,
    help="List candidate events (confidence below alerts.min_confidence, not emailed) instead.",
)
@output_options
@verbosity_options
def events(
    config_path: str, limit: int, include_historical: bool, candidates: bool, fmt: str
) -> None:
    """Print the ban events (the `ban_events` view), newest first.

    With --candidates, print the `ban_event_candidates` view: events awaiting an analyst's
    review (historical ones only with --all).
    """
    settings = load_settings(config_path)
    view = "ban_event_candidates" if candidates else "ban_events"
    where = "" if include_historical else "WHERE NOT historical"
    query = (
        f"SELECT {EVENT_LIST_COLUMNS} FROM {view} {where} "
        "ORDER BY announced_on DESC NULLS LAST, first_seen_at DESC, event_id LIMIT ?"
    )
    with _open_snapshot(settings) as con:
        cursor = con.execute(query, [limit])
        columns = [d[0] for d in cursor.description]
        emit(columns, cursor.fetchall(), fmt)


READ_ONLY_HINT = (
    "banwatch sql is read-only: it reads the snapshot's tables and views only (no ATTACH, "
    "COPY TO, EXPORT, INSTALL/LOAD, SET, or reading local files)"
)


def _query_error(exc: Exception) -> BanwatchError:
    """One line naming what DuckDB refused, with the read-only rule when that is the cause."""
    import duckdb

    detail = " ".join(str(exc).split("\n")[0].split())
    refused = isinstance(exc, duckdb.PermissionException) or any(
        marker in detail for marker in ("read-only mode", "configuration has been locked")
    )
    return BanwatchError(f"query failed: {detail}" + (f"; {READ_ONLY_HINT}" if refused else ""))


@cli.command()
@click.argument("query")
@config_option
@output_options
@verbosity_options
def sql(query: str, config_path: str, fmt: str) -> None:
    """Run a read-only SQL QUERY against the warehouse snapshot.

    The connection is read-only with external access off: statements that would write, attach
    other files, copy out, install extensions or read local files fail with a one-line error.

    Example: banwatch sql "SELECT app, count(*) FROM ban_events GROUP BY app"
    """
    import duckdb

    settings = load_settings(config_path)
    with _open_snapshot(settings) as con:
        try:
            cursor = con.execute(query)
            if cursor.description is None:
                return
            columns = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        except duckdb.Error as exc:
            raise _query_error(exc) from None
        emit(columns, rows, fmt)


@cli.command()
@click.option(
    "--dir", "workdir", default="data/demo", show_default=True, type=click.Path(file_okay=False)
)
@click.option("--keep-serving", is_flag=True, help="Keep the sample newsroom up until Ctrl-C.")
@verbosity_options
def demo(workdir: str, keep_serving: bool) -> None:
    """Run the pipeline over the bundled sample corpus, offline.

    Serves the sample newsroom on 127.0.0.1, catches alert emails on a local SMTP server,
    runs one pass into WORKDIR/banwatch.duckdb and prints the events found.
    """
    from banwatch.demo import run_demo

    run_demo(workdir, progress=_progress_printer(), keep_serving=keep_serving)


def main() -> None:  # pragma: no cover - console entry point
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
