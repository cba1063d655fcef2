"""The warehouse file: the writer connection and run bookkeeping.

DuckDB allows one writer process, and any process holding the file open (even read-only) blocks
that writer. So the scheduled pass is the only process that should open `warehouse.path`;
`connect` waits a bounded time (`warehouse.lock_timeout`) for a holder to let go, and then names
it. Once per pass the pass publishes the analysts' part of the warehouse as a read-only snapshot
(`warehouse.snapshot`: `publish_snapshot`, `open_latest`, `open_reader`, re-exported here), which
analysts, notebooks and `banwatch sql` open instead.

The load and read functions live in `warehouse.load` and `warehouse.read`; they are re-exported
here so stages can call everything as `store.<verb>`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import duckdb
from banwatch.warehouse.load import (
    apply_resolution,
    load_articles,
    load_detections,
    load_embeddings,
    load_feed_results,
    load_stories,
    store_signatures,
    transaction,
)
from banwatch.warehouse.migrations import migrate
from banwatch.warehouse.read import (
    article_leads,
    embedding_dim,
    embedding_watermark,
    embeddings_after,
    events_first_seen,
    failed_feeds,
    feed_states,
    hit_articles,
    holder_states,
    known_urls,
    list_events,
    neighbour_embeddings,
    query_events,
    recent_urls,
    situation_history,
    story_sources,
    story_vetoes,
    window_embeddings,
)
from banwatch.warehouse.snapshot import (
    READER_CONFIG,
    SNAPSHOT_STORAGE_VERSION,
    open_latest,
    open_reader,
    remove_stale_snapshot_files,
)
from banwatch.warehouse.snapshot import publish as publish_snapshot

from banwatch.errors import WarehouseError
from banwatch.records import PassSummary

__all__ = [
    "READER_CONFIG",
    "SNAPSHOT_STORAGE_VERSION",
    "abort_run",
    "apply_resolution",
    "article_leads",
    "connect",
    "embedding_dim",
    "embedding_watermark",
    "embeddings_after",
    "events_first_seen",
    "compact",
    "failed_feeds",
    "fail_run",
    "feed_states",
    "finish_run",
    "hit_articles",
    "holder_states",
    "known_urls",
    "list_events",
    "load_articles",
    "load_detections",
    "load_embeddings",
    "load_feed_results",
    "load_stories",
    "neighbour_embeddings",
    "open_latest",
    "open_reader",
    "query_events",
    "publish_snapshot",
    "recent_urls",
    "remove_stale_snapshot_files",
    "running_runs",
    "situation_history",
    "story_sources",
    "story_vetoes",
    "store_signatures",
    "start_run",
    "transaction",
    "window_embeddings",
]

logger = logging.getLogger(__name__)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")
LOCK_RETRY_FIRST, LOCK_RETRY_MAX = 0.1, 2.0  # seconds between attempts: doubling, capped


def lock_holder(detail: str) -> str:
    """Who holds the file, from DuckDB's lock error: 'PID n (its command line)' when readable."""
    match = LOCK_HOLDER.search(detail)
    if not match:
        return "another process"
    pid = int(match["pid"])
    try:  # Linux; another user's process or another OS: fall back to DuckDB's executable
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        command = " ".join(raw.decode(errors="replace").replace("\0", " ").split())
    except OSError:
        command = ""
    command = command or match["exe"]
    return f"PID {pid} ({command[:200]})"


def _open_writer(path: Path, lock_timeout: float) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect(path)`, retried with backoff while another process holds the file.

    Any process holding the file open, even read-only (an analyst's notebook), stops the single
    writer. Waiting up to `lock_timeout` seconds lets a short session end instead of failing a
    scheduled pass; the holder is logged once, and named in the error if it never lets go.
    """
    deadline = time.monotonic() + max(0.0, lock_timeout)
    delay, holder = LOCK_RETRY_FIRST, None
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException as exc:
            detail = _first_line(exc)
            if "lock" not in detail.lower():
                raise
            if holder is None:
                holder = lock_holder(detail)
                if lock_timeout > 0:
                    logger.warning(
                        "%s is held by %s; waiting up to %g s for it (warehouse.lock_timeout)",
                        path,
                        holder,
                        lock_timeout,
                    )
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseError(
                    f"{path}: locked by another process, {lock_holder(detail)}, after waiting "
                    f"{lock_timeout:g} s (warehouse.lock_timeout); DuckDB lets one process open "
                    "this file: end that session, and point analysts at the read-only snapshot "
                    "(warehouse.snapshot_path, `banwatch sql`) instead of this file"
                ) from None
            time.sleep(min(delay, left))
            delay = min(delay * 2, LOCK_RETRY_MAX)


def connect(
    path: str | os.PathLike[str], *, lock_timeout: float = 0.0
) -> duckdb.DuckDBPyConnection:
    """Open (creating it and its directory if needed) and migrate the warehouse for writing.

    While another process holds the file, retry for up to `lock_timeout` seconds (the pass
    passes `warehouse.lock_timeout`; 0 fails at once), then fail naming the holder.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = _open_writer(path, lock_timeout)
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"{path}: cannot open ({_first_line(exc)}); check the path and permissions"
        ) from None
    except (OSError, duckdb.Error) as exc:
        raise WarehouseError(
            f"{path}: cannot open ({_first_line(exc)}); check the path and that it is a DuckDB file"
        ) from None
    try:
        con.execute("SET TimeZone = 'UTC'")  # timestamps come back as UTC datetimes
        applied = migrate(con)
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(
            f"{path}: migration failed ({_first_line(exc)}); restore a backup or report a bug"
        ) from None
    if applied:
        logger.info("warehouse %s migrated: %s", path, ", ".join(applied))
    return con


def process_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host and is not a zombie (killed, not yet reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    try:  # Linux: a zombie has exited already; state is the field after "(comm)"
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def start_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    now: dt.datetime,
    *,
    pid: int | None = None,
    host: str | None = None,
) -> None:
    """Record that a pass started (a retried run keeps its first start time).

    `pid` and `host` name the process running the whole pass (NULL for an Airflow run, whose
    tasks run in many processes); `process_started_at` is the wall clock, for telling stale
    runs (see banwatch.pipeline), while `started_at` is the run's own time (`now`).
    """
    con.execute(
        "INSERT INTO runs (run_id, started_at, status, pid, host, process_started_at) "
        "VALUES (?, ?, 'running', ?, ?, current_timestamp) "
        "ON CONFLICT (run_id) DO UPDATE SET status = 'running', finished_at = NULL, "
        "pid = excluded.pid, host = excluded.host, process_started_at = get_current_timestamp()",
        [run_id, now, pid, host],
    )


def running_runs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Rows still `running`: run_id, pid, host and age (wall clock since their process began)."""
    rows = con.execute(
        "SELECT run_id, pid, host, current_timestamp - coalesce(process_started_at, started_at) "
        "FROM runs WHERE status = 'running' ORDER BY started_at"
    ).fetchall()
    return [
        {"run_id": r, "pid": pid, "host": host, "age": age or dt.timedelta(0)}
        for r, pid, host, age in rows
    ]


def abort_run(con: duckdb.DuckDBPyConnection, run_id: str, reason: str) -> None:
    """Mark a run that was interrupted `aborted`, with why (its process will never finish it)."""
    con.execute(
        "UPDATE runs SET status = 'aborted', finished_at = current_timestamp, error = ? "
        "WHERE run_id = ? AND status = 'running'",
        [" ".join(reason.split())[:1000], run_id],
    )


def fail_run(con: duckdb.DuckDBPyConnection, run_id: str, error: str) -> None:
    """Mark a pass failed with a one-line reason (its staging stays for a retry or inspection)."""
    con.execute(
        "UPDATE runs SET status = 'failed', finished_at = current_timestamp, error = ? "
        "WHERE run_id = ?",
        [" ".join(error.split())[:1000], run_id],
    )


def finish_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    summary: PassSummary,
    finished_at: dt.datetime | None = None,
) -> None:
    """Record a pass's counts; `finished_at` defaults to the database clock (audit only)."""
    con.execute(
        "INSERT INTO runs (run_id, started_at, status) VALUES (?, coalesce(?, current_timestamp), "
        "'running') ON CONFLICT DO NOTHING",
        [run_id, finished_at],
    )
    con.execute(
        "UPDATE runs SET finished_at = coalesce(?, current_timestamp), feeds_polled = ?, "
        "feeds_failed = ?, new_articles = ?, articles_failed = ?, new_stories = ?, "
        "new_events = ?, emails_sent = ?, status = 'finished' WHERE run_id = ?",
        [
            finished_at,
            summary.feeds_polled,
            summary.feeds_failed,
            summary.new_articles,
            summary.articles_failed,
            summary.new_stories,
            summary.new_events,
            summary.emails_sent,
            run_id,
        ],
    )


def compact(con: duckdb.DuckDBPyConnection) -> None:
    """Vacuum and checkpoint the warehouse (the maintenance DAG), so the file gives space back."""
    con.execute("VACUUM")
    con.execute("FORCE CHECKPOINT")
