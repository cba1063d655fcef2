"""Read what the stages need back from the warehouse, converted to records at the boundary."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from banwatch.warehouse import schema

from banwatch.records import (
    Event,
    EventState,
    EventStatus,
    FeedState,
    Holder,
    KnownState,
    Situation,
    Source,
)

logger = logging.getLogger(__name__)

_names = itertools.count()


@contextlib.contextmanager
def _registered(con: duckdb.DuckDBPyConnection, *tables: pa.Table) -> Iterator[list[str]]:
    """Arrow `tables` registered as views under fresh names for the duration of the block."""
    names = [f"_read_{next(_names)}" for _ in tables]
    for name, table in zip(names, tables, strict=True):
        con.register(name, table)
    try:
        yield names
    finally:
        for name in names:
            con.unregister(name)


def _with_table(con: duckdb.DuckDBPyConnection, batch: pa.Table, sql: str) -> list[tuple]:
    """Run `sql` with `{t}` naming `batch` registered as a view; returns all rows."""
    with _registered(con, batch) as (name,):
        return con.execute(sql.format(t=name)).fetchall()


def feed_states(con: duckdb.DuckDBPyConnection) -> dict[str, FeedState]:
    """Conditional-GET validators and consecutive failures of every known feed, by name."""
    rows = con.execute(
        "SELECT name, etag, last_modified, coalesce(failure_count, 0) FROM feeds"
    ).fetchall()
    return {
        name: FeedState(name=name, etag=etag, last_modified=modified, failure_count=failures)
        for name, etag, modified, failures in rows
    }


def known_urls(con: duckdb.DuckDBPyConnection, urls: Iterable[str]) -> set[str]:
    """Which of `urls` are already stored as articles (whatever their outcome)."""
    urls = list(dict.fromkeys(urls))
    if not urls:
        return set()
    rows = _with_table(
        con,
        pa.table({"url": pa.array(urls, pa.string())}),
        "SELECT url FROM articles WHERE url IN (SELECT url FROM {t})",
    )
    return {r[0] for r in rows}


def recent_urls(con: duckdb.DuckDBPyConnection, since: dt.datetime) -> set[str]:
    """URLs fetched since `since` that need no new fetch.

    Temporary failures (timeouts, 5xx) are left out, so the next pass fetches them again.
    """
    rows = con.execute(
        "SELECT url FROM articles WHERE coalesce(fetched_at, published_at) >= ? "
        "AND outcome IS DISTINCT FROM 'temporary'",
        [since],
    ).fetchall()
    return {r[0] for r in rows}


def _embedding_rows(table: pa.Table) -> dict[str, Any]:
    """Columns of an embeddings query as lists, with the vectors as one float32 matrix."""
    ids = table.column("article_id").to_pylist()
    vectors = table.column("embedding").combine_chunks()
    values = vectors.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    out = {name: table.column(name).to_pylist() for name in table.column_names}
    out["embedding"] = values.reshape(len(ids), -1) if ids else np.zeros((0, 0), np.float32)
    return out


def embedding_watermark(
    con: duckdb.DuckDBPyConnection, model: str, upto: int
) -> tuple[int, int, int]:
    """(rows with seq <= `upto`, largest seq, all rows) of one model's embeddings: an index
    that holds `upto` as its high-water mark is complete when the first equals its item count.
    """
    ((below, top, total),) = con.execute(
        "SELECT count(*) FILTER (WHERE seq <= ?), coalesce(max(seq), 0), count(*) "
        "FROM article_embeddings WHERE model = ?",
        [upto, model],
    ).fetchall()
    return int(below), int(top), int(total)


def embedding_dim(con: duckdb.DuckDBPyConnection, model: str) -> int | None:
    """Length of one model's stored vectors (None when it has none)."""
    rows = con.execute(
        "SELECT len(embedding) FROM article_embeddings WHERE model = ? LIMIT 1", [model]
    ).fetchall()
    return int(rows[0][0]) if rows else None


def embeddings_after(
    con: duckdb.DuckDBPyConnection, model: str, after: int, batch_rows: int = 50_000
) -> Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One model's embeddings with seq > `after`, in seq order and batches: (seqs, times as
    epoch seconds of coalesce(published_at, fetched_at), matrix). For the stories index."""
    reader = con.sql(
        "SELECT e.seq, epoch(coalesce(a.published_at, a.fetched_at)) AS t, e.embedding "
        "FROM article_embeddings AS e JOIN articles AS a USING (article_id) "
        "WHERE e.model = ? AND e.seq > ? ORDER BY e.seq",
        params=[model, after],
    ).to_arrow_reader(batch_rows)
    for batch in reader:
        if batch.num_rows == 0:
            continue
        seqs = batch.column("seq").to_numpy(zero_copy_only=False).astype(np.int64)
        times = batch.column("t").to_numpy(zero_copy_only=False).astype(np.float64)
        flat = batch.column("embedding").flatten().to_numpy(zero_copy_only=False)
        yield seqs, np.nan_to_num(times), flat.astype(np.float32).reshape(batch.num_rows, -1)


def neighbour_embeddings(
    con: duckdb.DuckDBPyConnection,
    model: str,
    seqs: Iterable[int],
    since: dt.datetime,
    until: dt.datetime,
    *,
    vectors: bool = True,
) -> dict[str, Any]:
    """Stored articles that new ones may join, found by the stories index: the embeddings with
    these `seqs`, plus the other members of their stories published between `since` and `until`
    (a story's signature is the union of its members'). Same order as `window_embeddings`.

    Returns lists under article_id, story_id, published_at, language, signature (JSON or None)
    and the float32 matrix under embedding; with `vectors=False`, the seqs under seq instead
    (the index holds the vectors: reading them back costs more than the rest of the query).
    """
    keys = sorted({int(s) for s in seqs})
    batch = pa.table({"seq": pa.array(keys, pa.int64())})
    with _registered(con, batch) as (name,):
        table = con.sql(
            f"WITH hit AS (SELECT e.article_id FROM article_embeddings AS e JOIN {name} AS k "
            "ON e.seq = k.seq WHERE e.model = $model), "
            "story AS (SELECT DISTINCT a.story_id FROM articles AS a JOIN hit USING (article_id) "
            "WHERE a.story_id IS NOT NULL) "
            "SELECT a.article_id, a.story_id, a.published_at, a.language, e.signature, "
            f"{'e.embedding' if vectors else 'e.seq'} "
            "FROM articles AS a JOIN article_embeddings AS e USING (article_id) "
            "WHERE e.model = $model AND a.story_id IS NOT NULL "
            "AND (a.article_id IN (SELECT article_id FROM hit) "
            "OR (a.story_id IN (SELECT story_id FROM story) "
            "AND coalesce(a.published_at, a.fetched_at) BETWEEN $since AND $until)) "
            "ORDER BY coalesce(a.published_at, a.fetched_at), a.article_id",
            params={"model": model, "since": since, "until": until},
        ).to_arrow_table()
    if not vectors:
        return {name: table.column(name).to_pylist() for name in table.column_names}
    return _embedding_rows(table)


def hit_articles(
    con: duckdb.DuckDBPyConnection, model: str, seqs: Iterable[int], *, vectors: bool = False
) -> dict[str, Any]:
    """The stored articles in a story with these `seqs` (the stories index's hits), and only
    them: their stories' other members serve only the stories' vetoes (`story_vetoes`).

    Lists under article_id, story_id, published_at, language, signature (JSON or None) and seq,
    in `window_embeddings`' order; with `vectors`, the float32 matrix under embedding too (the
    index normally holds the vectors: reading them back costs more than the rest).
    """
    keys = sorted({int(s) for s in seqs})
    batch = pa.table({"seq": pa.array(keys, pa.int64())})
    with _registered(con, batch) as (name,):
        table = con.sql(
            "SELECT a.article_id, a.story_id, a.published_at, a.language, e.signature, e.seq"
            f"{', e.embedding' if vectors else ''} "
            f"FROM {name} AS k JOIN article_embeddings AS e ON e.seq = k.seq "
            "JOIN articles AS a ON a.article_id = e.article_id "
            "WHERE e.model = ? AND a.story_id IS NOT NULL "
            "ORDER BY coalesce(a.published_at, a.fetched_at), a.article_id",
            params=[model],
        ).to_arrow_table()
    published = _datetimes(table.column("published_at"))
    table = table.drop_columns(["published_at"])
    if vectors:
        return {**_embedding_rows(table), "published_at": published}
    return {
        **{c: table.column(c).to_pylist() for c in table.column_names},
        "published_at": published,
    }


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _datetimes(column: pa.ChunkedArray) -> list[dt.datetime | None]:
    """UTC timestamps as datetimes, built from their microseconds: pyarrow's own conversion
    looks the time zone up per value (18 ms for 4,000 hits, more than the query)."""
    micros = column.cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_pylist()
    return [None if us is None else _EPOCH + dt.timedelta(microseconds=us) for us in micros]


# What `story_vetoes` reads of a stored signature (`enrich.dedupe.story_signature`'s JSON).
VETO_PATHS = (
    "$.v",
    "$.places",
    "$.weak_places",
    "$.apps",
    "$.action",
    "$.comment",
    "$.company",
    "$.companies",
)


def story_vetoes(
    con: duckdb.DuckDBPyConnection,
    model: str,
    story_ids: Iterable[str],
    hit_ids: Iterable[str],
    *,
    since: dt.datetime,
    until: dt.datetime,
    version: int,
    first_seq: int = 0,
) -> tuple[dict[str, list[str]], list[tuple[str, str | None]]]:
    """What each story's veto sets are made of, read in DuckDB instead of every member's row:
    the distinct `VETO_PATHS` values of its members' signatures, each as one JSON array text
    (members naming the same places, apps and action, most of a story, give one). Members are
    the story's `hit_ids` and its articles published (undated: fetched) between `since` and
    `until`, the rows `neighbour_embeddings` reads, all with a seq of at least `first_seq`
    (the stories index's bound for the window: row groups below it are skipped unread).

    Also returns the members whose stored signature is missing, unreadable or of another
    `version` (article_id, language): they are left out; compute and store them, then ask again.
    """
    stories = pa.table({"story_id": pa.array(sorted(set(story_ids)), pa.string())})
    hits = pa.table({"article_id": pa.array(sorted(set(hit_ids)), pa.string())})
    paths = ", ".join(f"'{p}'" for p in VETO_PATHS)
    with _registered(con, stories, hits) as (s_name, h_name):
        rows = con.execute(
            "WITH m AS (SELECT a.story_id, a.article_id, a.language, "
            f"try(json_extract(e.signature, [{paths}])) AS j "
            "FROM articles AS a JOIN article_embeddings AS e ON e.article_id = a.article_id "
            "WHERE e.model = $model AND e.seq >= $first_seq "
            f"AND a.story_id IN (SELECT story_id FROM {s_name}) "
            f"AND (a.article_id IN (SELECT article_id FROM {h_name}) "
            "OR coalesce(a.published_at, a.fetched_at) BETWEEN $since AND $until)), "
            "f AS (SELECT *, j IS NULL OR try_cast(j[1] AS BIGINT) IS DISTINCT FROM $version "
            "AS stale FROM m) "
            "SELECT story_id, list(DISTINCT to_json(j)) FILTER (WHERE NOT stale), "
            "list(article_id) FILTER (WHERE stale), list(language) FILTER (WHERE stale) "
            "FROM f GROUP BY story_id",
            {
                "model": model,
                "since": since,
                "until": until,
                "version": version,
                "first_seq": first_seq,
            },
        ).fetchall()
    vetoes = {r[0]: r[1] or [] for r in rows}
    stale = [(a, lang) for r in rows for a, lang in zip(r[2] or [], r[3] or [], strict=True)]
    return vetoes, stale


def window_embeddings(
    con: duckdb.DuckDBPyConnection, since: dt.datetime, model: str
) -> dict[str, Any]:
    """Stored articles in a story published (or, undated, fetched) since `since` that new ones
    may join, with their stored signatures: the brute-force path, without an index. Lists under
    article_id, story_id, published_at, language, signature, and the float32 matrix (one row per
    article, same order) under embedding."""
    table = con.sql(
        "SELECT a.article_id, a.story_id, a.published_at, a.language, e.signature, e.embedding "
        "FROM articles AS a JOIN article_embeddings AS e USING (article_id) "
        "WHERE e.model = ? AND a.story_id IS NOT NULL "
        "AND coalesce(a.published_at, a.fetched_at) >= ? "
        "ORDER BY coalesce(a.published_at, a.fetched_at), a.article_id",
        params=[model, since],
    ).to_arrow_table()
    return _embedding_rows(table)


def article_leads(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Title and the first 600 characters of text of stored articles, by id (for story keys)."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return {}
    rows = _with_table(
        con,
        pa.table({"article_id": pa.array(ids, pa.string())}),
        "SELECT article_id, coalesce(title, ''), left(coalesce(text, ''), 600) FROM articles "
        "WHERE article_id IN (SELECT article_id FROM {t})",
    )
    return {r[0]: (r[1], r[2]) for r in rows}


# An events row is an `Event` by name; `source_count` is counted from event_sources.
EVENT_COLUMNS = ", ".join(schema.EVENTS.names)
SOURCE_COLUMNS = ", ".join(schema.EVENT_SOURCES.names)


def event_from_row(row: Sequence[Any], source_count: int = 1) -> Event:
    """The `Event` of a row selected as `EVENT_COLUMNS`."""
    fields = dict(zip(schema.EVENTS.names, row, strict=True))
    fields["body"] = fields["body"] or ""
    fields["historical"] = bool(fields["historical"])
    fields["status"] = fields["status"] or EventStatus.NEWS
    return Event(**fields, source_count=source_count)


def story_sources(
    con: duckdb.DuckDBPyConnection, story_ids: Iterable[str]
) -> tuple[dict[str, str], set[Situation]]:
    """The stored event sources in these stories: article id -> story id, and the situations
    of their events (so that a new article of such a story can join its event as a source)."""
    ids = sorted({s for s in story_ids if s})
    if not ids:
        return {}, set()
    rows = _with_table(
        con,
        pa.table({"story_id": pa.array(ids, pa.string())}),
        "SELECT DISTINCT s.article_id, a.story_id, e.country, coalesce(e.subdivision, ''), "
        "e.app, e.scope, coalesce(e.body, '') FROM event_sources AS s "
        "JOIN articles AS a ON a.article_id = s.article_id "
        "JOIN events AS e ON e.event_id = s.event_id "
        "WHERE a.story_id IN (SELECT story_id FROM {t})",
    )
    return {r[0]: r[1] for r in rows}, {tuple(r[2:]) for r in rows}  # type: ignore[misc]


def situation_history(
    con: duckdb.DuckDBPyConnection, situations: Iterable[Situation]
) -> dict[Situation, list[EventState]]:
    """Known states of each situation: stored events (with their sources) and background mentions.

    Each list is in announced_on order; situations with nothing stored are absent.
    """
    keys = sorted(set(situations))
    if not keys:
        return {}
    batch = pa.table(
        {
            name: pa.array([k[i] for k in keys], pa.string())
            for i, name in enumerate(("country", "subdivision", "app", "scope", "body"))
        }
    )
    match = (
        "JOIN {t} AS k ON x.country = k.country AND coalesce(x.subdivision, '') = k.subdivision "
        "AND x.app = k.app AND x.scope = k.scope AND coalesce(x.body, '') = k.body"
    )
    events = _with_table(
        con,
        batch,
        f"SELECT {', '.join('x.' + c for c in schema.EVENTS.names)} FROM events AS x {match}",
    )
    ids = [r[0] for r in events]
    sources: dict[str, list[Source]] = defaultdict(list)
    if ids:
        rows = _with_table(
            con,
            pa.table({"event_id": pa.array(ids, pa.string())}),
            f"SELECT {SOURCE_COLUMNS} FROM event_sources "
            "WHERE event_id IN (SELECT event_id FROM {t}) ORDER BY event_id, article_id",
        )
        for r in rows:
            sources[r[0]].append(Source(**dict(zip(schema.EVENT_SOURCES.names, r, strict=True))))
    mentions = _with_table(
        con,
        batch,
        "SELECT DISTINCT x.country, coalesce(x.subdivision, ''), x.app, x.scope, "
        f"coalesce(x.body, ''), x.action, x.announced_on, x.article_id FROM mentions AS x {match}",
    )
    history: dict[Situation, list[EventState]] = defaultdict(list)
    for row in events:
        event = event_from_row(row, len({s.outlet for s in sources[row[0]]}) or 1)
        history[event.situation].append(
            EventState(event.action, event.announced_on, event, tuple(sources[row[0]]))
        )
    for *situation, action, announced, article_id in mentions:
        history[tuple(situation)].append(  # type: ignore[index]
            EventState(action, announced, article_id=article_id)
        )
    return {k: sorted(v, key=EventState.sort_key) for k, v in history.items()}


def holder_states(
    con: duckdb.DuckDBPyConnection, holders: Iterable[Holder]
) -> dict[Holder, list[KnownState]]:
    """Every known state (events and background mentions) of each (country, subdivision, app)."""
    keys = sorted(set(holders))
    if not keys:
        return {}
    batch = pa.table(
        {
            name: pa.array([k[i] for k in keys], pa.string())
            for i, name in enumerate(("country", "subdivision", "app"))
        }
    )
    rows = _with_table(
        con,
        batch,
        "SELECT x.country, coalesce(x.subdivision, ''), x.app, x.scope, coalesce(x.body, ''), "
        "x.action, x.announced_on FROM (SELECT country, subdivision, app, scope, body, action, "
        "announced_on FROM events UNION ALL SELECT country, subdivision, app, scope, body, "
        "action, announced_on FROM mentions) AS x JOIN {t} AS k ON x.country = k.country "
        "AND coalesce(x.subdivision, '') = k.subdivision AND x.app = k.app "
        "WHERE x.announced_on IS NOT NULL",
    )
    states: dict[Holder, list[KnownState]] = defaultdict(list)
    for country, sub, app, scope, body, action, announced in rows:
        states[(country, sub, app)].append((scope, body, action, announced, ""))
    return dict(states)


# How `query_events` may order rows (by name, so no caller writes SQL).
EVENT_ORDERS = {
    "newest": "announced_on DESC NULLS LAST, first_seen_at DESC, event_id",
    "announced": "announced_on, jurisdiction, event_id",
    "confidence": "confidence DESC, announced_on, jurisdiction, event_id",
}
# The columns `banwatch events` lists.
EVENT_LIST_COLUMNS = (
    "event_id", "announced_on", "jurisdiction", "country", "subdivision", "app", "scope",
    "action", "source_count", "confidence", "url",
)  # fmt: skip
_COLUMN = re.compile(r"[a-z_]+")


def query_events(
    con: duckdb.DuckDBPyConnection,
    *,
    candidates: bool = False,
    include_historical: bool = True,
    first_seen: tuple[dt.datetime, dt.datetime] | None = None,
    columns: Sequence[str] | None = None,
    clip: Mapping[str, int] | None = None,
    order: str = "newest",
    limit: int | None = None,
) -> duckdb.DuckDBPyConnection:
    """THE query of `ban_events` (or, with `candidates`, `ban_event_candidates`): a cursor over
    its rows, for callers that stream them (`cursor.description` names the columns).

    `first_seen` keeps events first seen in [start, end); `columns` picks view columns to show
    (all, unchanged, by default), with the confidence rounded to 2 digits and `clip`'s text
    columns cut to at most so many characters; `order` is a key of `EVENT_ORDERS`.
    """
    view = "ban_event_candidates" if candidates else "ban_events"
    names = list(columns or ())
    if any(not _COLUMN.fullmatch(c) for c in [*names, *(clip or {})]):
        raise ValueError(f"not a column name in {names}")
    select = ", ".join(_shown(c, (clip or {}).get(c)) for c in names)
    where, params = ["TRUE"], []
    if not include_historical:
        where.append("NOT historical")
    if first_seen is not None:
        where.append("first_seen_at >= ? AND first_seen_at < ?")
        params += list(first_seen)
    sql = f"SELECT {select or '*'} FROM {view} WHERE {' AND '.join(where)}"
    sql += f" ORDER BY {EVENT_ORDERS[order]}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return con.execute(sql, params)


def _shown(column: str, chars: int | None) -> str:
    if column == "confidence":
        return "round(confidence, 2) AS confidence"
    return column if chars is None else f"left({column}, {int(chars)}) AS {column}"


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def list_events(
    con: duckdb.DuckDBPyConnection,
    limit: int = 50,
    *,
    include_historical: bool = True,
    candidates: bool = False,
) -> list[dict[str, Any]]:
    """Rows of `ban_events` (or, with `candidates`, `ban_event_candidates`), newest first."""
    return _dicts(
        query_events(con, candidates=candidates, include_historical=include_historical, limit=limit)
    )


def events_first_seen(
    con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What a digest lists: news events first seen in [start, end), oldest announcement first,
    and the candidates first seen then, most confident first."""
    window = (start, end)
    events = query_events(con, include_historical=False, first_seen=window, order="announced")
    news = _dicts(events)
    candidates = query_events(con, candidates=True, first_seen=window, order="confidence")
    return news, _dicts(candidates)


def failed_feeds(con: duckdb.DuckDBPyConnection, names: Sequence[str]) -> list[tuple[Any, ...]]:
    """(name, last_outcome, last_reason, last_error) of those of `names` whose last poll failed
    (hard or temporary), in the order of `names`."""
    rows = con.execute(
        "SELECT name, last_outcome, last_reason, last_error FROM feeds "
        "WHERE list_contains(?, name) AND last_outcome IN ('hard', 'temporary')",
        [list(names)],
    ).fetchall()
    order = {name: i for i, name in enumerate(names)}
    return sorted(rows, key=lambda r: order[r[0]])
