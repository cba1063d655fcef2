"""The warehouse file: the writer connection, the analysts' snapshot, and run bookkeeping.

DuckDB allows one writer process, and a reader's open file blocks that writer. So the
scheduled pass is the only process that opens `warehouse.path`; after each pass it publishes a
consistent read-only copy (`publish_snapshot`) with an atomic rename, and analysts, notebooks
and `banwatch sql` open that copy (`open_reader`, which also turns external access off). A
reader holding the old copy keeps reading it (the rename does not touch an open file) and never
stops the next pass.

The load and read functions live in `warehouse.load` and `warehouse.read`; they are re-exported
here so stages can call everything as `store.<verb>`.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
from pathlib import Path
from typing import Any

import duckdb

from banwatch.errors import WarehouseError
from banwatch.faults import checkpoint
from banwatch.records import PassSummary
from warehouse.load import (
    apply_resolution,
    load_articles,
    load_detections,
    load_embeddings,
    load_feed_results,
    load_stories,
    transaction,
)
from warehouse.migrations import migrate
from warehouse.read import (
    article_leads,
    feed_states,
    holder_states,
    known_urls,
    list_events,
    recent_embeddings,
    recent_urls,
    situation_history,
)

__all__ = [
    "abort_run",
    "apply_resolution",
    "article_leads",
    "connect",
    "fail_run",
    "feed_states",
    "finish_run",
    "holder_states",
    "known_urls",
    "list_events",
    "load_articles",
    "load_detections",
    "load_embeddings",
    "load_feed_results",
    "load_stories",
    "open_reader",
    "publish_snapshot",
    "recent_embeddings",
    "recent_urls",
    "remove_stale_snapshot_files",
    "running_runs",
    "situation_history",
    "start_run",
    "transaction",
]

logger = logging.getLogger(__name__)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def connect(path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """Open (creating it and its directory if needed) and migrate the warehouse for writing."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
    except duckdb.IOException as exc:
        detail = _first_line(exc)
        if "lock" in detail.lower():
            raise WarehouseError(
                f"{path}: locked by another process ({detail}); DuckDB allows one writer: wait "
                "for the running pass to finish, and point readers at the read-only snapshot "
                "(warehouse.snapshot_path) instead of this file"
            ) from None
        raise WarehouseError(
            f"{path}: cannot open ({detail}); check the path and permissions"
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


# The analysts' connection may read the snapshot and nothing else: no ATTACH of other files,
# no COPY TO / EXPORT DATABASE, no reads of local files (read_csv, read_text, glob), no
# INSTALL/LOAD of extensions; `lock_configuration` (set last) stops SQL from undoing any of it.
READER_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def open_reader(path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """Open the published snapshot read-only and locked down (what `banwatch sql` uses).

    Read-only, so no statement changes the snapshot; external access off and the
    configuration locked, so no statement writes, reads or fetches anything else.
    """
    path = Path(path)
    if not path.is_file():
        raise WarehouseError(
            f"{path}: no warehouse snapshot yet; run `banwatch run` once to publish it"
        )
    try:
        con = duckdb.connect(str(path), read_only=True, config=dict(READER_CONFIG))
    except duckdb.Error as exc:
        raise WarehouseError(
            f"{path}: cannot open the snapshot ({_first_line(exc)}); run `banwatch run` to "
            "publish a fresh one"
        ) from None
    con.execute("SET TimeZone = 'UTC'")  # an ICU option, not accepted in `config`
    con.execute("SET lock_configuration = true")
    return con


# The storage format the analysts' snapshot is written in. DuckDB 2.0 writes its own format by
# default, which no 1.x client opens (the PyPI CLI 1.5.x and BI tools that embed 1.x fail with
# "version number 69"); 'v1.5.0' is the newest format a 1.x release reads (DuckDB 1.5.0 and
# later, 2.x included). Raise it only once the analysts' clients have moved on; 'v1.0.0' would
# reach 1.0-1.4 clients too, at the cost of 1.5's storage improvements. The warehouse itself
# (`connect`) keeps DuckDB's default: only the pass opens it.
SNAPSHOT_STORAGE_VERSION = "v1.5.0"


def publish_snapshot(con: duckdb.DuckDBPyConnection, snapshot_path: str | os.PathLike[str]) -> Path:
    """Write a consistent copy of the warehouse to `snapshot_path`, replacing it atomically.

    The copy is built in a temporary file beside the snapshot (ATTACH with
    `SNAPSHOT_STORAGE_VERSION`, COPY FROM DATABASE, CHECKPOINT, DETACH) and renamed over it, so
    a reader sees either the old or the new database, never a half-written one, a reader holding
    the old file open blocks nothing, and DuckDB 1.x clients can open it.
    """
    target = Path(snapshot_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    (source,) = con.execute("SELECT current_database()").fetchone()  # type: ignore[misc]
    alias = "banwatch_snapshot"
    quoted = str(tmp).replace("'", "''")
    try:
        con.execute(f"ATTACH '{quoted}' AS {alias} (STORAGE_VERSION '{SNAPSHOT_STORAGE_VERSION}')")
        try:
            con.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
            con.execute(f"CHECKPOINT {alias}")
        finally:
            con.execute(f"DETACH {alias}")
        checkpoint("snapshot:copied")  # a kill here leaves the full-size copy: see below
        os.replace(tmp, target)
    except (duckdb.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise WarehouseError(
            f"{target}: snapshot not published ({_first_line(exc)}); check free disk space "
            "and that the directory is writable"
        ) from None
    logger.info("published snapshot %s", target)
    return target


SNAPSHOT_TMP = r"\.{name}\.(\d+)\.tmp(?:\.wal)?"  # publish_snapshot's temporary names


def remove_stale_snapshot_files(snapshot_path: str | os.PathLike[str]) -> list[Path]:
    """Remove copies a killed `publish_snapshot` left beside the snapshot; return them.

    Each publication writes `.<snapshot>.<pid>.tmp` and removes only its own pid's name, so a
    pass killed while copying leaves a full-size file that nothing else would remove. Only
    names of that pattern whose process is gone are touched. Call it holding the writer
    connection: then no other pass can be publishing.
    """
    target = Path(snapshot_path)
    if not target.parent.is_dir():
        return []
    pattern = re.compile(SNAPSHOT_TMP.format(name=re.escape(target.name)))
    removed = []
    for path in target.parent.iterdir():
        match = pattern.fullmatch(path.name)
        if match and not process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        logger.warning("removed %d snapshot copies left by killed passes", len(removed))
    return removed


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
