"""SQL behind `banwatch report`: counts for the charts, the newest events, candidates, feed health.

Every function takes an open connection (the analysts' snapshot, or the writer's file when the
digest attaches the report) and returns plain rows as dicts, so the report module only draws.
Columns that a newer migration adds (`feeds.last_success_at`, the `feed_health` view) are used
when `duckdb_columns()` shows them and skipped when it does not, so a report still renders
against an older warehouse.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

# What a chart counts: ban_events without candidates, dated by announcement (or, undated, by
# when banwatch first saw them); `since` bounds the window.
_CHART_EVENTS = """
SELECT *, coalesce(announced_on, CAST(first_seen_at AS DATE)) AS day
FROM ban_events
WHERE coalesce(announced_on, CAST(first_seen_at AS DATE)) >= ?
"""

# Feed columns in the order the report shows them; those a warehouse lacks are left out.
FEED_COLUMNS = (
    "name",
    "last_outcome",
    "last_reason",
    "failure_count",
    "last_polled_at",
    "last_success_at",
    "last_new_article_at",
)
# Columns of the feed_health view not worth a column in the report (validators, long text).
_FEED_HIDDEN = {"url", "etag", "last_modified", "last_error", "last_status", "entries_seen"}


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def relation_columns(con: duckdb.DuckDBPyConnection, name: str) -> list[str]:
    """Columns of table or view `name` in the main schema, in order; [] when it does not exist."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
        "AND schema_name = current_schema() AND database_name = current_database() "
        "ORDER BY column_index",
        [name],
    ).fetchall()
    return [r[0] for r in rows]


def event_count(con: duckdb.DuckDBPyConnection) -> int:
    """Events in ban_events (news and historical; candidates are counted apart)."""
    return con.execute("SELECT count(*) FROM ban_events").fetchone()[0]  # type: ignore[index]


def events_per_month(con: duckdb.DuckDBPyConnection, since: dt.date) -> list[dict[str, Any]]:
    """(month, action, events): month is the first day of the month of announcement."""
    return _dicts(
        con.execute(
            f"SELECT date_trunc('month', day) AS month, action, count(*) AS events "
            f"FROM ({_CHART_EVENTS}) GROUP BY ALL ORDER BY month, action",
            [since],
        )
    )


def events_by_app(con: duckdb.DuckDBPyConnection, since: dt.date, top: int) -> list[dict[str, Any]]:
    """(app, action, events) for the `top` apps with the most events in the window."""
    return _dicts(
        con.execute(
            f"WITH x AS ({_CHART_EVENTS}), "
            "top_apps AS (SELECT app, count(*) AS total FROM x GROUP BY app "
            "ORDER BY total DESC, app LIMIT ?) "
            "SELECT x.app, x.action, count(*) AS events, any_value(t.total) AS total "
            "FROM x JOIN top_apps AS t USING (app) GROUP BY ALL ORDER BY total DESC, app, action",
            [since, top],
        )
    )


def events_by_country(
    con: duckdb.DuckDBPyConnection, since: dt.date, top: int
) -> list[dict[str, Any]]:
    """(country, action, events) for the `top` countries (ISO alpha-2, 'EU') in the window."""
    return _dicts(
        con.execute(
            f"WITH x AS ({_CHART_EVENTS}), "
            "top_countries AS (SELECT country, count(*) AS total FROM x GROUP BY country "
            "ORDER BY total DESC, country LIMIT ?) "
            "SELECT x.country, x.action, count(*) AS events, any_value(t.total) AS total "
            "FROM x JOIN top_countries AS t USING (country) GROUP BY ALL "
            "ORDER BY total DESC, country, action",
            [since, top],
        )
    )


def _with_sources(con: duckdb.DuckDBPyConnection, view: str, where: str, order: str, limit: int):
    """Rows of `view` with `sources`: a list of {outlet, site_name, url}, one per article."""
    site = "a.site_name" if "site_name" in relation_columns(con, "articles") else "NULL::VARCHAR"
    return _dicts(
        con.execute(
            f"WITH e AS (SELECT * FROM {view} WHERE {where} ORDER BY {order} LIMIT ?) "
            "SELECT e.*, list({'outlet': s.outlet, 'site_name': "
            f"{site}, 'url': s.url}} ORDER BY s.confidence DESC, s.outlet) "
            "FILTER (WHERE s.url IS NOT NULL) AS sources "
            "FROM e LEFT JOIN event_sources AS s USING (event_id) "
            "LEFT JOIN articles AS a ON a.article_id = s.article_id "
            f"GROUP BY ALL ORDER BY {order}",
            [limit],
        )
    )


def newest_events(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """The newest news events (not historical), by first sight, with their sources."""
    return _with_sources(
        con,
        "ban_events",
        "NOT historical",
        "first_seen_at DESC, announced_on DESC NULLS LAST, event_id",
        limit,
    )


def review_candidates(con: duckdb.DuckDBPyConnection, limit: int) -> list[dict[str, Any]]:
    """Candidate events awaiting review (not historical), most confident first."""
    return _with_sources(
        con,
        "ban_event_candidates",
        "NOT historical",
        "confidence DESC, first_seen_at DESC, event_id",
        limit,
    )


def candidate_count(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(  # type: ignore[index]
        "SELECT count(*) FROM ban_event_candidates WHERE NOT historical"
    ).fetchone()[0]


def feed_health(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """One row per feed, worst first: the `feed_health` view when the warehouse has it, else
    the feeds table's own columns (whichever of FEED_COLUMNS exist)."""
    view = relation_columns(con, "feed_health")
    if view:
        extra = [c for c in view if c not in FEED_COLUMNS and c not in _FEED_HIDDEN]
        columns = [c for c in FEED_COLUMNS if c in view] + extra
        source = "feed_health"
    else:
        table = relation_columns(con, "feeds")
        columns = [c for c in FEED_COLUMNS if c in table]
        source = "feeds"
    if not columns:
        return []
    order = ["coalesce(failure_count, 0) DESC"] if "failure_count" in columns else []
    order.append('"name"' if "name" in columns else "1")
    quoted = ", ".join(f'"{c}"' for c in columns)
    return _dicts(con.execute(f"SELECT {quoted} FROM {source} ORDER BY {', '.join(order)}"))


def last_pass(con: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """When the last finished pass ended (None before the first, or without a runs table)."""
    if "finished_at" not in relation_columns(con, "runs"):
        return None
    return con.execute(  # type: ignore[index]
        "SELECT max(finished_at) FROM runs WHERE status = 'finished'"
    ).fetchone()[0]
