"""The SQL of `banwatch reprocess`: read stored articles, replace their text and detections,
clear and compare the events of the affected holders, and keep reprocessing out of the outbox.

Every function runs on the caller's connection and commits nothing itself: the orchestration
(`banwatch.reprocess`) wraps them all in one `transaction`, so a crash leaves the warehouse as
it was and `--dry-run` rolls everything back.

A *holder* is (country, subdivision or "", app): every scope and acting body of one app in one
place. Reprocessing rebuilds whole holders, because a detection's scope may be inherited from
another scope of the same holder (`enrich.novelty.inherit_scopes`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import duckdb
import pyarrow as pa
from banwatch.warehouse import schema
from banwatch.warehouse.load import EXTRACTED_COLUMNS, article_batch
from banwatch.warehouse.schema import utc as _utc

from banwatch.records import Article, Detection, Holder

logger = logging.getLogger(__name__)

_names = itertools.count()

# Compared between the warehouse before and after: what `banwatch reprocess` reports.
EVENT_FIELDS = (*(n for n in schema.EVENTS.names if n != "event_id"), "source_count")
_DETECTION_FIELDS = tuple(n for n in schema.DETECTIONS.names if n != "detection_id")
# An article's stored columns but its story and run (which reprocessing keeps).
ARTICLE_COLUMNS = ", ".join(n for n in schema.ARTICLES.names if n not in ("story_id", "run_id"))
_HOLDER_MATCH = (
    "x.country = k.country AND coalesce(x.subdivision, '') = k.subdivision AND x.app = k.app"
)


def _registered(con: duckdb.DuckDBPyConnection, batch: pa.Table) -> _Registered:
    return _Registered(con, batch)


class _Registered:
    """`with _registered(con, batch) as name:` a temporary view of an Arrow table."""

    def __init__(self, con: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
        self.con, self.batch, self.name = con, batch, f"_reprocess_{next(_names)}"

    def __enter__(self) -> str:
        self.con.register(self.name, self.batch)
        return self.name

    def __exit__(self, *exc: object) -> None:
        self.con.unregister(self.name)


def _ids(values: Iterable[str]) -> pa.Table:
    return pa.table({"k": pa.array(sorted(set(values)), pa.string())})


def _holders(holders: Iterable[Holder]) -> pa.Table:
    keys = sorted(set(holders))
    return pa.table(
        {
            name: pa.array([k[i] for k in keys], pa.string())
            for i, name in enumerate(("country", "subdivision", "app"))
        }
    )


def article_ids_since(con: duckdb.DuckDBPyConnection, since: dt.datetime | None) -> list[str]:
    """Stored articles fetched at or after `since` (all when None), oldest first."""
    rows = con.execute(
        "SELECT article_id FROM articles "
        "WHERE ? IS NULL OR coalesce(fetched_at, published_at) >= ? "
        "ORDER BY coalesce(fetched_at, published_at) NULLS FIRST, article_id",
        [since, since],
    ).fetchall()
    return [r[0] for r in rows]


def read_articles(con: duckdb.DuckDBPyConnection, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The stored rows of `ids` (raw HTML included), in the order given."""
    with _registered(con, _ids(ids)) as t:
        cursor = con.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE article_id IN (SELECT k FROM {t})"
        )
        columns = [d[0] for d in cursor.description]
        rows = {r[0]: dict(zip(columns, r, strict=True)) for r in cursor.fetchall()}
    return [rows[i] for i in ids if i in rows]


def update_articles(con: duckdb.DuckDBPyConnection, articles: Sequence[Article]) -> int:
    """Replace the text and metadata of stored articles (raw HTML, run and story are kept)."""
    if not articles:
        return 0
    batch = article_batch(articles, columns=EXTRACTED_COLUMNS)
    columns = [c for c in batch.column_names if c != "article_id"]
    with _registered(con, batch) as t:
        con.execute(
            "UPDATE articles SET "
            + ", ".join(f"{c} = n.{c}" for c in columns)
            + f" FROM {t} AS n WHERE articles.article_id = n.article_id"
        )
    return len(articles)


def count_detections(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> int:
    """How many detections of `article_ids` are stored."""
    with _registered(con, _ids(article_ids)) as t:
        rows = con.execute(
            f"SELECT count(*) FROM detections WHERE article_id IN (SELECT k FROM {t})"
        ).fetchall()
    return int(rows[0][0])


def delete_detections(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> None:
    """Forget the stored detections of `article_ids` (they are detected again)."""
    with _registered(con, _ids(article_ids)) as t:
        con.execute(f"DELETE FROM detections WHERE article_id IN (SELECT k FROM {t})")


def detection_holders(con: duckdb.DuckDBPyConnection, article_ids: Sequence[str]) -> set[Holder]:
    """Holders of the stored detections of `article_ids`, and of the events they source."""
    with _registered(con, _ids(article_ids)) as t:
        rows = con.execute(
            "SELECT country, coalesce(subdivision, ''), app FROM detections "
            f"WHERE article_id IN (SELECT k FROM {t}) UNION "
            "SELECT e.country, coalesce(e.subdivision, ''), e.app FROM events AS e "
            f"JOIN event_sources AS s USING (event_id) WHERE s.article_id IN (SELECT k FROM {t})"
        ).fetchall()
    return {tuple(r) for r in rows}  # type: ignore[misc]


def holder_detections(con: duckdb.DuckDBPyConnection, holders: Iterable[Holder]) -> list[Detection]:
    """Every stored detection (news and background) of `holders`, as the pipeline loaded it."""
    batch = _holders(holders)
    if not batch.num_rows:
        return []
    with _registered(con, batch) as t:
        rows = con.execute(
            f"SELECT {', '.join('x.' + n for n in _DETECTION_FIELDS)} "
            f"FROM detections AS x JOIN {t} AS k ON {_HOLDER_MATCH} "
            "ORDER BY x.article_id, x.detection_id"
        ).fetchall()
    detections = [dict(zip(_DETECTION_FIELDS, r, strict=True)) for r in rows]
    return [Detection(**{**d, "body": d["body"] or ""}) for d in detections]


def first_sight(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[tuple[Any, ...], dt.datetime]]:
    """When each stored article was first seen, and the pass (batch) that saw it.

    The warehouse keeps no per-article first-seen time, so it is read back from the passes: an
    article was seen at the `now` of the run that loaded it (`runs.started_at`), or, when that
    run was a `--replay`, at its publication time. A run was a replay when one of its articles
    is an event's source published exactly at the event's `first_seen_at`, before the run's
    start (only a replay sets first-seen times from publication times). An article with no run
    row counts as seen when it was fetched. Returns article_id -> (batch key, seen at); the batch
    key orders the passes as they ran.
    """
    rows = con.execute(
        """
        WITH replays AS (
            SELECT DISTINCT a.run_id FROM event_sources AS s
            JOIN events AS e USING (event_id)
            JOIN articles AS a ON a.article_id = s.article_id
            JOIN runs AS r ON r.run_id = a.run_id
            WHERE a.published_at = e.first_seen_at AND a.published_at < r.started_at
        )
        SELECT a.article_id, a.run_id, r.started_at,
               CASE WHEN a.run_id IN (SELECT run_id FROM replays) AND a.published_at IS NOT NULL
                    THEN a.published_at
                    ELSE coalesce(r.started_at, a.fetched_at, a.published_at) END
        FROM articles AS a LEFT JOIN runs AS r ON r.run_id = a.run_id
        """
    ).fetchall()
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    out = {}
    for article_id, run_id, started, seen in rows:
        seen = _utc(seen) or epoch
        key = (_utc(started) or seen, run_id or "")
        out[article_id] = (key, seen)
    return out


def story_mates(con: duckdb.DuckDBPyConnection, article_ids: Iterable[str]) -> dict[str, str]:
    """Article id -> story id for every article that shares a story with one of these."""
    with _registered(con, _ids(article_ids)) as t:
        rows = con.execute(
            "SELECT article_id, story_id FROM articles WHERE story_id IN "
            f"(SELECT story_id FROM articles WHERE article_id IN (SELECT k FROM {t}))"
        ).fetchall()
    return dict(rows)


def article_labels(
    con: duckdb.DuckDBPyConnection, article_ids: Iterable[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """URL and outlet (site name, else feed name) of each article, as the load step names them."""
    with _registered(con, _ids(article_ids)) as t:
        rows = con.execute(
            "SELECT article_id, url, coalesce(site_name, feed_name) FROM articles "
            f"WHERE article_id IN (SELECT k FROM {t})"
        ).fetchall()
    return {r[0]: r[1] for r in rows}, {r[0]: r[2] for r in rows if r[2]}


def holder_events(
    con: duckdb.DuckDBPyConnection, holders: Iterable[Holder]
) -> dict[str, dict[str, Any]]:
    """The events of `holders` with their source counts and outbox status, by event_id."""
    batch = _holders(holders)
    if not batch.num_rows:
        return {}
    fields = ", ".join(f"x.{f}" for f in EVENT_FIELDS if f != "source_count")
    with _registered(con, batch) as t:
        cursor = con.execute(
            f"SELECT x.event_id, {fields}, "
            "(SELECT count(DISTINCT s.outlet) FROM event_sources AS s "
            "WHERE s.event_id = x.event_id) AS source_count, "
            "(SELECT a.status FROM alerts AS a WHERE a.event_id = x.event_id) AS alert "
            f"FROM events AS x JOIN {t} AS k ON {_HOLDER_MATCH}"
        )
        columns = [d[0] for d in cursor.description]
        return {r[0]: dict(zip(columns, r, strict=True)) for r in cursor.fetchall()}


def clear_holders(con: duckdb.DuckDBPyConnection, holders: Iterable[Holder]) -> None:
    """Delete the events, their sources, and the mentions of `holders` (rebuilt right after).

    The outbox is left alone: `settle_outbox` decides about its rows afterwards.
    """
    batch = _holders(holders)
    if not batch.num_rows:
        return
    with _registered(con, batch) as t:
        con.execute(
            "DELETE FROM event_sources WHERE event_id IN (SELECT x.event_id FROM events AS x "
            f"JOIN {t} AS k ON {_HOLDER_MATCH})"
        )
        con.execute(
            f"DELETE FROM events WHERE event_id IN (SELECT x.event_id FROM events AS x "
            f"JOIN {t} AS k ON {_HOLDER_MATCH})"
        )
        con.execute(
            "DELETE FROM mentions WHERE mention_id IN (SELECT x.mention_id FROM mentions AS x "
            f"JOIN {t} AS k ON {_HOLDER_MATCH})"
        )


def load_new_detections(con: duckdb.DuckDBPyConnection, detections: Sequence[Detection]) -> None:
    """Store re-detected detections (the pipeline's `load_detections`, inside our transaction)."""
    from banwatch.warehouse.load import load_detections

    load_detections(con, detections)


def alert_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Every event id the outbox has a row for (sent ones too, whether the event exists or not)."""
    return {r[0] for r in con.execute("SELECT event_id FROM alerts").fetchall()}


def settle_outbox(
    con: duckdb.DuckDBPyConnection,
    had_row: set[str],
    before: dict[str, dict[str, Any]],
    after: dict[str, dict[str, Any]],
) -> dict[str, int]:
    """Keep reprocessing out of the mailbox; `had_row` is `alert_ids` before the rebuild.

    Rows the rebuild queued (an event that had no outbox row before: new, or a candidate now
    confident enough) are deleted: reprocessing never emails. An unsent row (pending, or
    `sending` left by a killed pass) whose event is gone or no longer `news` becomes `skipped`
    with the reason in `last_error`. A sent, failed or skipped row is never touched.
    """
    queued = sorted(set(after) - had_row)
    stale = sorted(
        eid
        for eid, e in before.items()
        if e["alert"] in ("pending", "sending")
        and (eid not in after or after[eid]["status"] != "news")
    )
    if queued:
        with _registered(con, _ids(queued)) as t:
            con.execute(f"DELETE FROM alerts WHERE event_id IN (SELECT k FROM {t})")
    for eid in stale:
        reason = "event removed" if eid not in after else f"status now {after[eid]['status']}"
        con.execute(
            "UPDATE alerts SET status = 'skipped', last_error = ? "
            "WHERE event_id = ? AND status IN ('pending', 'sending')",
            [f"reprocess: {reason}; not emailed", eid],
        )
    return {"unqueued": len(queued), "skipped": len(stale)}


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


__all__ = [
    "EVENT_FIELDS",
    "article_ids_since",
    "alert_ids",
    "article_labels",
    "chunks",
    "clear_holders",
    "count_detections",
    "delete_detections",
    "detection_holders",
    "first_sight",
    "holder_detections",
    "holder_events",
    "load_new_detections",
    "read_articles",
    "settle_outbox",
    "update_articles",
]
