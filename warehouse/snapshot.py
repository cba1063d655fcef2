"""The analysts' snapshot: what they query, published apart from the store, read fresh.

The warehouse file is the store: the pass's own state (raw HTML kept for reprocessing,
embeddings, feeds' conditional-GET validators, indexes) lives beside what analysts query.
`publish` copies only the analysts' part into a temporary file written in
`SNAPSHOT_STORAGE_VERSION` and renames it over the snapshot, once per pass:

* every base table of the warehouse except `STORE_ONLY_TABLES`, without `STORE_ONLY_COLUMNS`,
  with no key or index (analysts only read it), with its table and column COMMENTs;
* every view, recreated from its SQL as `duckdb_views()` gives it at publish time (so views that
  later migrations add come along without being listed here), with its view and column COMMENTs.

Tables are copied in one transaction, so the snapshot is one consistent state of the warehouse.
The store's part is named here, everything else is the analysts': a new table reaches analysts
unless it is added to `STORE_ONLY_TABLES`.

Reading: DuckDB keeps one database instance per file and process, so `duckdb.connect(snapshot,
read_only=True)` in a process that still holds a connection to that path returns the OLD file's
contents after a newer snapshot was renamed over it. `open_latest` attaches the snapshot to a new
in-memory database instead, which always opens the file now at that path; `open_reader` (what
`banwatch sql` uses) does the same and then locks the connection down.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import duckdb

from banwatch.errors import WarehouseError
from banwatch.faults import checkpoint

__all__ = [
    "READER_CONFIG",
    "SNAPSHOT_STORAGE_VERSION",
    "STORE_ONLY_COLUMNS",
    "STORE_ONLY_TABLES",
    "open_latest",
    "open_reader",
    "publish",
    "remove_stale_snapshot_files",
]

logger = logging.getLogger(__name__)

# The storage format the analysts' snapshot is written in. DuckDB 2.0 writes its own format by
# default, which no 1.x client opens (the PyPI CLI 1.5.x and BI tools that embed 1.x fail with
# "version number 69"); 'v1.5.0' is the newest format a 1.x release reads (DuckDB 1.5.0 and
# later, 2.x included). Raise it only once the analysts' clients have moved on; 'v1.0.0' would
# reach 1.0-1.4 clients too, at the cost of 1.5's storage improvements. The warehouse itself
# (`store.connect`) keeps DuckDB's default: only the pass opens it.
SNAPSHOT_STORAGE_VERSION = "v1.5.0"

# The store: what only the pass needs. Raw HTML is kept for `reprocess`, embeddings for story
# grouping, ETag/Last-Modified for conditional GETs. They are most of the warehouse's bytes.
STORE_ONLY_TABLES = frozenset({"article_embeddings"})
STORE_ONLY_COLUMNS: dict[str, frozenset[str]] = {
    "articles": frozenset({"raw_html_gz"}),
    "feeds": frozenset({"etag", "last_modified"}),
}

ALIAS = "banwatch_snapshot"  # the temporary file, while `publish` fills it
READER_ALIAS = "snapshot"  # the snapshot, as `open_latest` attaches it
SNAPSHOT_TMP = r"\.{name}\.(\d+)\.tmp(?:\.wal)?"  # publish's temporary names

# The analysts' connection may read the snapshot and nothing else: no ATTACH of other files,
# no COPY TO / EXPORT DATABASE, no reads of local files (read_csv, read_text, glob), no
# INSTALL/LOAD of extensions; `lock_configuration` (set last) stops SQL from undoing any of it.
READER_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _catalog(con: duckdb.DuckDBPyConnection, source: str) -> tuple[list, dict, list]:
    """The source's main-schema tables (name, comment), their columns, and views, in oid order."""
    scope = "database_name = ? AND schema_name = 'main' AND NOT internal"  # temp: database 'temp'
    tables = con.execute(
        f"SELECT table_name, comment FROM duckdb_tables() WHERE {scope} ORDER BY table_oid",
        [source],
    ).fetchall()
    columns: dict[str, list[tuple[str, str | None]]] = {}
    for table, column, comment in con.execute(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        f"WHERE {scope} ORDER BY table_oid, column_index",
        [source],
    ).fetchall():
        columns.setdefault(table, []).append((column, comment))
    views = con.execute(
        f"SELECT view_name, sql, comment FROM duckdb_views() WHERE {scope} ORDER BY view_oid",
        [source],
    ).fetchall()
    return tables, columns, views


def _comment_columns(
    con: duckdb.DuckDBPyConnection, relation: str, columns: Iterable[tuple[str, str | None]]
) -> None:
    for column, comment in columns:
        if comment:
            con.execute(
                f"COMMENT ON COLUMN {_ident(relation)}.{_ident(column)} IS {_literal(comment)}"
            )


def _copy_tables(con: duckdb.DuckDBPyConnection, source: str, tables: list, columns: dict) -> None:
    """The analysts' tables and columns, with their comments, in ONE transaction (consistent).

    The snapshot is the default database here (`USE`), so its names go unqualified.
    """
    con.execute("BEGIN")
    try:
        for table, comment in tables:
            if table in STORE_ONLY_TABLES:
                continue
            dropped = STORE_ONLY_COLUMNS.get(table, frozenset())
            kept = [(c, note) for c, note in columns.get(table, []) if c not in dropped]
            con.execute(
                f"CREATE TABLE {_ident(table)} AS SELECT "
                + ", ".join(_ident(c) for c, _ in kept)
                + f" FROM {_ident(source)}.main.{_ident(table)}"
            )
            if comment:
                con.execute(f"COMMENT ON TABLE {_ident(table)} IS {_literal(comment)}")
            _comment_columns(con, table, kept)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _create_views(con: duckdb.DuckDBPyConnection, views: list, columns: dict) -> None:
    """Recreate every view from its SQL (the snapshot is the default database here).

    A view may select from one created later (a CREATE OR REPLACE in a later migration), so
    views are created in rounds until none is left; a view that cannot be created at all (it
    reads a store-only table or column) fails the publication, naming it.
    """
    pending = list(views)
    while pending:
        failed, errors = [], {}
        for name, sql, comment in pending:
            try:
                con.execute(sql)
            except duckdb.Error as exc:
                failed.append((name, sql, comment))
                errors[name] = _first_line(exc)
                continue
            if comment:
                con.execute(f"COMMENT ON VIEW {_ident(name)} IS {_literal(comment)}")
            _comment_columns(con, name, columns.get(name, []))
        if len(failed) == len(pending):
            name = failed[0][0]
            raise WarehouseError(
                f"view {name} cannot be published to the analysts' snapshot ({errors[name]}); "
                "views must read only the analysts' tables (see warehouse.snapshot)"
            )
        pending = failed


def publish(con: duckdb.DuckDBPyConnection, snapshot_path: str | os.PathLike[str]) -> Path:
    """Publish the analysts' part of the warehouse `con` to `snapshot_path`, atomically.

    The copy is built in `.<name>.<pid>.tmp` beside the snapshot (ATTACH with
    `SNAPSHOT_STORAGE_VERSION`, tables, views, comments, CHECKPOINT, DETACH) and renamed over
    it, so a reader sees either the old or the new snapshot, never a half-written one, a reader
    holding the old file open blocks nothing, and DuckDB 1.x clients can open it. Call it
    outside a transaction, on the writer connection.
    """
    target = Path(snapshot_path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    (source,) = con.execute("SELECT current_database()").fetchone()  # type: ignore[misc]
    try:
        tables, columns, views = _catalog(con, source)
        con.execute(
            f"ATTACH {_literal(str(tmp))} AS {ALIAS} (STORAGE_VERSION '{SNAPSHOT_STORAGE_VERSION}')"
        )
        try:
            con.execute(f"USE {ALIAS}")
            _copy_tables(con, source, tables, columns)
            _create_views(con, views, columns)
            con.execute(f"USE {_ident(source)}")
            con.execute(f"CHECKPOINT {ALIAS}")
        finally:
            con.execute(f"USE {_ident(source)}")
            con.execute(f"DETACH {ALIAS}")
        checkpoint("snapshot:copied")  # a kill here leaves the copy: see remove_stale_...
        os.replace(tmp, target)
    except (duckdb.Error, OSError, WarehouseError) as exc:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        if isinstance(exc, WarehouseError):
            raise WarehouseError(f"{target}: snapshot not published: {exc}") from None
        raise WarehouseError(
            f"{target}: snapshot not published ({_first_line(exc)}); check free disk space "
            "and that the directory is writable"
        ) from None
    logger.info("published snapshot %s (%d bytes)", target, target.stat().st_size)
    return target


def remove_stale_snapshot_files(snapshot_path: str | os.PathLike[str]) -> list[Path]:
    """Remove copies a killed `publish` left beside the snapshot; return them.

    Each publication writes `.<snapshot>.<pid>.tmp` and removes only its own pid's name, so a
    pass killed while copying leaves a file that nothing else would remove. Only names of that
    pattern whose process is gone are touched. Call it holding the writer connection: then no
    other pass can be publishing.
    """
    from banwatch.warehouse.store import process_alive  # store imports this module at its top

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


def open_latest(
    path: str | os.PathLike[str], *, config: dict[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the snapshot file now at `path`, for long-lived sessions.

    A fresh in-memory database ATTACHes the snapshot READ_ONLY and makes it the default
    (`USE`), so its tables and views answer unqualified. Unlike `duckdb.connect(path,
    read_only=True)`, this never reuses the database instance of an earlier connection to the
    same path in this process, which would still show the snapshot it first opened.
    """
    path = Path(path)
    if not path.is_file():
        raise WarehouseError(
            f"{path}: no warehouse snapshot yet; run `banwatch run` once to publish it"
        )
    con = duckdb.connect(":memory:", config=dict(config or {}))
    try:
        con.execute(f"ATTACH {_literal(str(path))} AS {READER_ALIAS} (READ_ONLY)")
        con.execute(f"USE {READER_ALIAS}")
        con.execute("SET TimeZone = 'UTC'")  # an ICU option, not accepted in `config`
    except duckdb.Error as exc:
        con.close()
        raise WarehouseError(
            f"{path}: cannot open the snapshot ({_first_line(exc)}); run `banwatch run` to "
            "publish a fresh one"
        ) from None
    return con


def open_reader(path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """Open the newest snapshot read-only and locked down (what `banwatch sql` uses).

    `open_latest`, then external access off and the configuration locked, so no statement
    changes the snapshot or writes, reads or fetches anything else. (External access is turned
    off after the ATTACH: with it off from the start, DuckDB could not open the file.)
    """
    locked = {k: v for k, v in READER_CONFIG.items() if k != "enable_external_access"}
    con = open_latest(path, config=locked)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con
