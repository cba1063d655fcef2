"""The `banwatch` command: run a pass, look at events, query the warehouse, run the demo.

Every `BanwatchError` becomes one line on stderr that says how to fix it, and exit code 1 (2 for
usage errors, as click does); `banwatch run` also exits 3 or 4 (see `run`). Analysts' commands
(`events`, `sql`) read the read-only snapshot that each pass publishes, so they never block the
scheduled writer; `alerts` opens the writer's file, between passes.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import click

from banwatch import __version__
from banwatch.config import ENV_CONFIG, Settings, load_settings
from banwatch.errors import BanwatchError
from banwatch.output import FETCH_CHUNK, cell, emit, jsonable

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


SQL_ROW_CAP = 1000  # `banwatch sql` prints at most this many rows unless --limit / --all


class RowStream:
    """A DuckDB result read in chunks (never fetchall), stopping after `limit` rows.

    `cut` is true once iteration found a row beyond the limit, so the caller can say so.
    """

    def __init__(self, cursor: Any, limit: int | None) -> None:
        self.cursor = cursor
        self.limit = limit
        self.cut = False

    def _fetch(self, size: int) -> list[Any]:
        import duckdb

        try:
            return self.cursor.fetchmany(size)
        except duckdb.Error as exc:  # errors can surface mid-result (casts, overflow)
            raise _query_error(exc) from None

    def __iter__(self) -> Iterator[Any]:
        left = self.limit
        while left is None or left > 0:
            rows = self._fetch(FETCH_CHUNK if left is None else min(FETCH_CHUNK, left))
            if not rows:
                return
            yield from rows
            if left is not None:
                left -= len(rows)
        self.cut = bool(self._fetch(1))


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


# `banwatch run` exit codes (also in the README and the command's help).
EXIT_DONE = 0
EXIT_FEEDS_FAILED = 3
EXIT_ALERTS_UNDELIVERED = 4
FAILED_FEEDS_SHOWN = 10  # feeds named in the summary; the rest are counted


def run_exit_code(summary: Any, max_failed_ratio: float) -> int:
    """4 when an alert was not delivered, else 3 when too many feeds failed, else 0."""
    if summary.alerts_undelivered or summary.recipients_refused:
        return EXIT_ALERTS_UNDELIVERED
    polled, failed = summary.feeds_polled, summary.feeds_failed
    if polled and (failed == polled or failed > max_failed_ratio * polled):
        return EXIT_FEEDS_FAILED
    return EXIT_DONE


def failed_feed_lines(settings: Settings, limit: int = FAILED_FEEDS_SHOWN) -> list[str]:
    """One line per feed whose poll failed (hard or temporary) this pass, in config order."""
    from banwatch.warehouse import store

    names = [feed.name for feed in settings.feeds]
    with store.connect(settings.warehouse.path) as con:
        rows = store.failed_feeds(con, names)
    lines = [
        f"feed {name!r} failed: {reason or outcome} ({outcome})"
        + (f": {cell(error, 160)}" if error else "")
        for name, outcome, reason, error in rows[:limit]
    ]
    if len(rows) > limit:
        lines.append(f"... and {len(rows) - limit} more failed feeds (see the feeds table)")
    return lines


@cli.command()
@config_option
@click.option(
    "--replay",
    is_flag=True,
    help="Treat each article as first seen when it was published (backfills, evaluation).",
)
@click.option(
    "--no-alerts",
    "no_alerts",
    is_flag=True,
    help="Fill the outbox but email nothing; the alerts stay pending for the next pass.",
)
@verbosity_options
def run(config_path: str, replay: bool, no_alerts: bool) -> None:
    """Run one pass over the configured feeds.

    Prints one summary line on stdout; each failed feed is named, with its reason, on stderr
    (first 10; hidden by --quiet). Failed feeds and articles are recorded in the warehouse
    (tables feeds and articles); undelivered alerts stay in the outbox (banwatch alerts list).
    With --no-alerts nothing is emailed: new alerts stay pending and the next pass without it
    sends each once. Events announced more than alerts.recency_days before a pass first saw
    them are never emailed, by this pass or any later one, also with --replay (which judges
    their status as of publication, for backfills and evaluation).

    \b
    Exit codes:
      0  the pass completed
      1  bad configuration, or the pass itself failed (one line on stderr)
      2  bad command line
      3  completed, but more than fetch.max_failed_feeds_ratio of the feeds failed, or all did
      4  completed, but some alerts were not delivered (SMTP): they stay queued or failed
    When 3 and 4 both apply, the exit code is 4.
    """
    from banwatch.pipeline import run_pass

    settings = load_settings(config_path)
    summary = run_pass(settings, replay=replay, progress=_progress_printer(), send=not no_alerts)
    click.echo(summary.line())
    if summary.feeds_failed:
        for line in failed_feed_lines(settings):
            logger.warning("%s", line)
    code = run_exit_code(summary, settings.fetch.max_failed_feeds_ratio)
    if code == EXIT_ALERTS_UNDELIVERED:
        logger.warning(
            "alerts not delivered: %d left queued or failed, %d recipients refused; see "
            "`banwatch alerts list`",
            summary.alerts_undelivered,
            summary.recipients_refused,
        )
    elif code == EXIT_FEEDS_FAILED:
        logger.warning(
            "%d of %d feeds failed (more than fetch.max_failed_feeds_ratio = %s)",
            summary.feeds_failed,
            summary.feeds_polled,
            settings.fetch.max_failed_feeds_ratio,
        )
    click.get_current_context().exit(code)


def _open_snapshot(settings: Settings):
    from banwatch.warehouse.store import open_reader

    return open_reader(settings.warehouse.snapshot)


@cli.command()
@config_option
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="At most this many events, newest first.",
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
    from banwatch.warehouse import read

    settings = load_settings(config_path)
    with _open_snapshot(settings) as con:
        cursor = read.query_events(
            con,
            candidates=candidates,
            include_historical=include_historical,
            columns=read.EVENT_LIST_COLUMNS,
            limit=limit,
        )
        columns = [d[0] for d in cursor.description]
        emit(columns, RowStream(cursor, None), fmt)  # LIMIT ? bounds it


READ_ONLY_HINT = (
    "banwatch sql is read-only: it reads the snapshot's tables and views only (no ATTACH, "
    "COPY TO, EXPORT, INSTALL/LOAD, SET, or reading local files)"
)


def _query_error(exc: Exception) -> BanwatchError:
    """One line naming what DuckDB refused, with the read-only rule when that is the cause."""
    import duckdb

    # Keep the message and DuckDB's hints ("Did you mean ...", "Candidate bindings"); drop the
    # "LINE 1: ..." caret picture after the blank line, which needs many lines to mean anything.
    detail = " ".join(str(exc).split("\n\n")[0].split())
    refused = isinstance(exc, duckdb.PermissionException) or any(
        marker in detail for marker in ("read-only mode", "configuration has been locked")
    )
    return BanwatchError(f"query failed: {detail}" + (f"; {READ_ONLY_HINT}" if refused else ""))


@cli.command()
@click.argument("query")
@config_option
@click.option(
    "--limit",
    default=SQL_ROW_CAP,
    show_default=True,
    type=click.IntRange(min=1),
    help="Print at most this many rows; a note on stderr says when more matched.",
)
@click.option("--all", "all_rows", is_flag=True, help="Print every row (no --limit cap).")
@output_options
@verbosity_options
def sql(query: str, config_path: str, limit: int, all_rows: bool, fmt: str) -> None:
    """Run a read-only SQL QUERY against the warehouse snapshot.

    The connection is read-only with external access off: statements that would write, attach
    other files, copy out, install extensions or read local files fail with a one-line error.
    Rows stream from DuckDB as they are printed, so --all works on results of any size.

    Example: banwatch sql "SELECT app, count(*) FROM ban_events GROUP BY app"
    """
    import duckdb

    settings = load_settings(config_path)
    with _open_snapshot(settings) as con:
        try:
            cursor = con.execute(query)
        except duckdb.Error as exc:
            raise _query_error(exc) from None
        if cursor is None:  # DuckDB found no statement (empty, or only comments)
            raise BanwatchError(
                'QUERY has no SQL statement; e.g. banwatch sql "SELECT * FROM ban_events"'
            )
        if cursor.description is None:
            return
        rows = RowStream(cursor, None if all_rows else limit)
        emit([d[0] for d in cursor.description], rows, fmt)
    if rows.cut:
        click.echo(
            f"note: showing the first {limit} rows; more matched (pass --limit N or --all "
            "to see them)",
            err=True,
        )


@cli.command()
@config_option
@click.option(
    "--out",
    default="report.html",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="HTML file to write (replaced if it exists).",
)
@click.option(
    "--months",
    default=24,
    show_default=True,
    type=click.IntRange(min=1, max=600),
    help="Months of events the charts cover, up to this one.",
)
@verbosity_options
def report(config_path: str, out: str, months: int) -> None:
    """Write an HTML report of the warehouse snapshot to the --out file.

    One self-contained file (scripts and styles inlined: it opens offline and can be mailed):
    events per month by action, top apps and countries, the newest events with their evidence
    and sources, candidates awaiting review, and feed health.
    """
    from banwatch.report import build_report, write_report

    settings = load_settings(config_path)
    with _open_snapshot(settings) as con:
        html = build_report(con, months=months)
    path = write_report(html, out)
    click.echo(f"report written to {path} ({len(html.encode()) / 1e6:.1f} MB)")


@cli.command()
@click.option(
    "--dir", "workdir", default="data/demo", show_default=True, type=click.Path(file_okay=False)
)
@click.option("--keep-serving", is_flag=True, help="Keep the sample newsroom up until Ctrl-C.")
@verbosity_options
def demo(workdir: str, keep_serving: bool) -> None:
    """Run the pipeline over the bundled sample corpus, offline.

    Serves the sample newsroom on 127.0.0.1, writes alert emails as .eml files to WORKDIR/mail,
    runs one pass into WORKDIR/banwatch.duckdb and prints the events found.
    """
    from banwatch import output
    from banwatch.demo import Demo

    with Demo(workdir) as session:
        newsroom = session.newsroom
        output.demo_serving(len(session.items), len(newsroom.outlets), newsroom.base_url)
        output.demo_report(session.run(progress=_progress_printer()))
        if keep_serving:
            click.echo(f"serving {newsroom.base_url} until Ctrl-C", err=True)
            session.serve_until_interrupted()


# ---------------------------------------------------------------- reprocessing


class _BadOptionValue(click.ClickException):
    """A bad option value in one line (no usage text), exit code 2 like click's usage errors."""

    exit_code = 2


def _since(value: str | None) -> dt.datetime | None:
    """--since: a date (from its midnight UTC) or an ISO 8601 time (UTC when it has no zone)."""
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise _BadOptionValue(
            f"--since {value!r} is not a date; give YYYY-MM-DD (or an ISO 8601 time such as "
            "2026-03-01T12:00+00:00)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


REPROCESS_COLUMNS = (
    "change",
    "event_id",
    "jurisdiction",
    "app",
    "scope",
    "action",
    "announced_on",
    "status",
    "fields",
)


def _reprocess_rows(changes: Sequence[Any], fmt: str) -> list[tuple[Any, ...]]:
    """One row per changed event; `fields` is "field: old → new; ..." (an object in JSON)."""
    rows = []
    for c in changes:
        if fmt == "json":
            fields: Any = {
                f: {"old": jsonable(old), "new": jsonable(new)}
                for f, (old, new) in c.fields.items()
            }
        else:
            fields = "; ".join(
                f"{f}: {cell(old, 40)} → {cell(new, 40)}" for f, (old, new) in c.fields.items()
            )
        e = c.event
        rows.append(
            (
                c.change,
                c.event_id,
                e["jurisdiction"],
                e["app"],
                e["scope"],
                e["action"],
                e["announced_on"],
                e["status"],
                fields,
            )
        )
    return rows


@cli.command()
@config_option
@click.option(
    "--since",
    metavar="DATE",
    help="Only articles fetched on or after DATE (YYYY-MM-DD, UTC); default: every article.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@output_options
@verbosity_options
def reprocess(config_path: str, since: str | None, dry_run: bool, fmt: str) -> None:
    """Re-extract and re-detect stored articles with the current code; report what changed.

    Each article fetched since DATE is extracted again from its stored raw HTML (from its
    stored text when it has none) and detected again with the configured detector; the events
    of every situation those articles touch are rebuilt, each article at its original
    first-seen time. Prints the events added, removed and changed (which fields, old → new),
    then a summary line on stderr. Nothing is ever emailed: events the rebuild creates get no
    alert, and sent alerts are untouched. One transaction: a failure leaves the warehouse as it
    was. Opens the warehouse file (warehouse.path): run it between passes.
    """
    from banwatch.reprocess import reprocess as run_reprocess

    settings = load_settings(config_path)
    report = run_reprocess(
        settings, since=_since(since), dry_run=dry_run, progress=_progress_printer()
    )
    if report.changes or fmt != "table":
        emit(REPROCESS_COLUMNS, _reprocess_rows(report.changes, fmt), fmt)
    else:
        click.echo("no changes" + (" (dry run)" if dry_run else ""))
    if not click.get_current_context().meta.get("quiet"):
        click.echo(report.line(), err=True)


# ---------------------------------------------------------------- the alert outbox


def _writer(settings: Settings):
    """The warehouse file itself (not the snapshot): these commands change the outbox."""
    from pathlib import Path

    from banwatch.warehouse import connect

    if not Path(settings.warehouse.path).exists():
        raise BanwatchError(f"{settings.warehouse.path}: no warehouse yet; run `banwatch run` once")
    return connect(settings.warehouse.path)


@cli.group(context_settings=CONTEXT_SETTINGS)
def alerts() -> None:
    """Look at the alert outbox and decide what the next pass sends.

    These commands open the warehouse file (warehouse.path), not the snapshot: run them between
    passes. A refused email is retried on alerts.max_refusals passes, then stays `failed` until
    `banwatch alerts resend`.
    """


@alerts.command("list")
@config_option
@click.option(
    "--status",
    type=click.Choice(["pending", "sending", "sent", "failed", "skipped"]),
    help="Only alerts with this status.",
)
@output_options
@verbosity_options
def alerts_list(config_path: str, status: str | None, fmt: str) -> None:
    """Print the alert outbox, oldest first.

    Each alert's status, attempts, refusals (whole email refused), the recipients that have not
    got it (with the server's reply code) and the last error.
    """
    from banwatch.warehouse import outbox

    with _writer(load_settings(config_path)) as con:
        columns, rows = outbox.list_alerts(con, status)
    emit(columns, rows, fmt)


@alerts.command("resend")
@click.argument("event_id", required=False)
@click.option("--all-failed", is_flag=True, help="Resend every `failed` alert.")
@config_option
@verbosity_options
def alerts_resend(event_id: str | None, all_failed: bool, config_path: str) -> None:
    """Queue EVENT_ID's alert (or every failed one) for the next pass.

    It goes to each configured recipient that has not accepted it, with the same Message-ID;
    an alert every recipient already accepted goes to all of them again.
    """
    from banwatch.warehouse import outbox

    if bool(event_id) == all_failed:
        raise click.UsageError("give one EVENT_ID or --all-failed")
    with _writer(load_settings(config_path)) as con:
        ids = outbox.failed_event_ids(con) if all_failed else [event_id or ""]
        if not ids:
            click.echo("no failed alerts to resend")
        for eid in ids:
            before = outbox.resend(con, eid)
            if before in ("pending", "sending"):
                click.echo(f"alert {eid} is already queued ({before})")
            else:
                click.echo(f"alert {eid} queued for the next pass (was {before})")


@alerts.command("skip")
@click.argument("event_id")
@config_option
@verbosity_options
def alerts_skip(event_id: str, config_path: str) -> None:
    """Never send EVENT_ID's alert.

    Its status becomes `skipped`; `banwatch alerts resend EVENT_ID` undoes it.
    """
    from banwatch.warehouse import outbox

    with _writer(load_settings(config_path)) as con:
        before = outbox.skip(con, event_id)
    click.echo(f"alert {event_id} skipped (was {before}); it will not be sent")


# ---------------------------------------------------------------- analysts' review


class _ReviewGroup(click.Group):
    """`banwatch review EVENT_ID --confirm|--reject` beside `review list` and `review export`:
    a first argument that is not a subcommand is an event id, for the hidden `judge` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["judge", *args]
        return super().parse_args(ctx, args)


def _reviewer() -> str:
    """Who is judging: $USER, else the login name, else 'unknown'."""
    import getpass

    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@cli.group(cls=_ReviewGroup, context_settings=CONTEXT_SETTINGS)
def review() -> None:
    """Confirm or reject events: banwatch review EVENT_ID --confirm | --reject [--note TEXT].

    A rejected event leaves ban_events, ban_event_candidates and situations and is never
    emailed (its unsent alert is skipped, and later coverage does not queue it again). A
    confirmed one shows review = 'confirmed' in the views; a confirmed candidate joins
    ban_events (nothing is emailed). The latest judgement of an event wins. Judgements export
    as labelled rows for scripts/train_detector.py --judgements FILE. These commands open the
    warehouse file (warehouse.path): run them between passes; the snapshot is republished.
    Exit codes: 0 done, 1 unknown event or other error (one line), 2 bad command line.
    """


@review.command("judge", hidden=True)
@click.argument("event_id")
@click.option("--confirm", "verdict", flag_value="confirmed", help="The event is real.")
@click.option("--reject", "verdict", flag_value="rejected", help="The event is wrong.")
@click.option("--note", help="Why, in a few words (kept with the judgement).")
@config_option
@verbosity_options
def review_judge(event_id: str, verdict: str | None, note: str | None, config_path: str) -> None:
    """Record a judgement of EVENT_ID: --confirm or --reject, with an optional --note."""
    from banwatch.warehouse import review as reviews
    from banwatch.warehouse import store

    if verdict is None:
        raise click.UsageError("give --confirm or --reject")
    settings = load_settings(config_path)
    with _writer(settings) as con:
        done = reviews.judge(con, event_id, verdict, reviewer=_reviewer(), note=note)
        store.publish_snapshot(con, settings.warehouse.snapshot)
    was = f" (was {done['previous']})" if done["previous"] else ""
    click.echo(f"event {event_id} {verdict}{was}: {done['event']}")
    if done["alert_skipped"]:
        click.echo(f"its unsent alert is skipped: event {event_id} will not be emailed")


@review.command("list")
@click.argument("event_id", required=False)
@config_option
@output_options
@verbosity_options
def review_list(event_id: str | None, config_path: str, fmt: str) -> None:
    """Print the judgements (of EVENT_ID, if given), newest first.

    `current` marks each event's latest judgement, the one that counts.
    """
    from banwatch.warehouse import review as reviews

    with _writer(load_settings(config_path)) as con:
        columns, rows = reviews.list_judgements(con, event_id)
    emit(columns, rows, fmt)


@review.command("export")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="File to write: CSV if it ends in .csv, else JSON lines.",
)
@config_option
@verbosity_options
def review_export(out: str, config_path: str) -> None:
    """Write each judged event as a labelled row for scripts/train_detector.py --judgements.

    One row per event (its latest judgement): the verdict, the event's fields and its evidence
    article's id, url, title and text.
    """
    from banwatch.warehouse import review as reviews

    with _writer(load_settings(config_path)) as con:
        count = reviews.export_judgements(con, out)
    click.echo(f"wrote {count} judged events to {out}")


def main() -> None:  # pragma: no cover - console entry point
    cli()


if __name__ == "__main__":  # pragma: no cover
    main()
