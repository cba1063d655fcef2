"""The DuckDB warehouse: migrations, idempotent loads, the ban_events view, the reader snapshot.

Every test uses a real DuckDB file in tmp_path; lock behaviour is checked against a second,
real process, because DuckDB's locks are per process.
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
import sys
import textwrap

import duckdb
import numpy as np
import pytest
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import schema, store
from banwatch.warehouse.load import insert_arrow
from banwatch.warehouse.migrations import MIGRATIONS, migrate

from banwatch.errors import WarehouseError
from banwatch.records import (
    Article,
    FeedResult,
    Outcome,
    ParsedEntry,
    PassSummary,
    StoryAssignment,
)
from tests.support.factories import make_detection

NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)

# The ban_events contract of DESIGN.md, in its order, then the extra columns.
BAN_EVENTS_COLUMNS = [
    "event_id",
    "jurisdiction",
    "country",
    "subdivision",
    "level",
    "app",
    "scope",
    "action",
    "announced_on",
    "first_seen_at",
    "source_count",
    "confidence",
    "evidence",
    "url",
    "historical",
    "body",
    "status",
    "country_name",  # m007
    "review",  # m008
]

TABLES = [
    "feeds",
    "articles",
    "article_embeddings",
    "stories",
    "events",
    "event_sources",
    "mentions",
    "detections",
    "alerts",
    "runs",
]


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "banwatch.duckdb"


@pytest.fixture
def con(db_path):
    connection = store.connect(db_path)
    yield connection
    connection.close()


def article(n: int, site: str = "Daily Example", when: dt.datetime = NOW) -> Article:
    return Article(
        article_id=f"art{n:04d}",
        url=f"https://news{n % 3}.example/story/{n}",
        feed_name=f"feed{n % 3}",
        title=f"Headline {n}",
        text="Ministers said on Thursday that the app would be removed. " * 5,
        published_at=when,
        site_name=site,
        raw_html_gz=b"\x1f\x8b fake",
        fetched_at=when,
    )


# a UK TikTok ban announced on the day of the load
detection = functools.partial(
    make_detection,
    jurisdiction="United Kingdom",
    country="GB",
    announced_on=NOW.date(),
    evidence="The government said the app is barred from official phones.",
)


def counts(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def load_everything(con, articles, detections, now=NOW) -> None:
    """What one pass loads, through the same functions the pipeline calls."""
    results = [
        FeedResult(
            "feed0",
            "https://news0.example/feed.xml",
            Outcome.OK,
            "ok",
            200,
            etag='"v1"',
            entries=[
                ParsedEntry("feed0", a.url, a.url, a.title, "", a.published_at) for a in articles
            ],
            polled_at=now,
        )
    ]
    store.load_feed_results(con, results)
    store.load_articles(con, articles, "run-1")
    matrix = np.eye(len(articles), 8, dtype=np.float32)
    store.load_embeddings(con, [a.article_id for a in articles], "mini", matrix)
    store.load_stories(con, [StoryAssignment(a.article_id, "s-one", 1.0) for a in articles], now)
    store.load_detections(con, detections)
    history = store.situation_history(con, {d.situation for d in detections})
    resolution = resolve_events(
        detections,
        history,
        seen_at={a.article_id: now for a in articles},
        recency_days=14,
        urls={a.article_id: a.url for a in articles},
        outlets={a.article_id: a.site_name or a.feed_name for a in articles},
    )
    store.apply_resolution(con, resolution)


def test_migrations_are_recorded_once_and_idempotent(db_path):
    con = store.connect(db_path)
    names = [r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert migrate(con) == []
    con.close()
    con = store.connect(db_path)  # reopening migrates nothing again
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(MIGRATIONS)
    con.close()


def test_every_table_and_column_is_documented(con):
    tables = dict(
        con.execute(
            "SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'main'"
        ).fetchall()
    )
    for table in TABLES:
        assert tables[table], f"table {table} has no COMMENT"
    undocumented = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE schema_name = 'main' AND table_name IN ({}) AND comment IS NULL".format(
            ", ".join(f"'{t}'" for t in TABLES)
        )
    ).fetchall()
    assert undocumented == []


def _described(con) -> dict[str, list[tuple]]:
    """Every table's comment, columns (type, default, nullability, comment) and keys."""
    tables = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() WHERE table_name <> 'schema_migrations'"
    ).fetchall()
    out: dict[str, list[tuple]] = {name: [("comment", comment)] for name, comment in tables}
    for table, *column in con.execute(
        "SELECT table_name, column_name, data_type, column_default, is_nullable, comment "
        "FROM duckdb_columns() WHERE table_name IN (SELECT table_name FROM duckdb_tables()) "
        "ORDER BY table_name, column_index"
    ).fetchall():
        out.setdefault(table, []).append(tuple(column))
    for table, kind, columns in con.execute(
        "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() "
        "WHERE constraint_type IN ('PRIMARY KEY', 'UNIQUE') ORDER BY ALL"
    ).fetchall():
        out.setdefault(table, []).append((kind, tuple(columns)))
    return {k: v for k, v in out.items() if k != "schema_migrations"}


def test_the_table_spec_describes_the_migrated_tables(con):
    """The spec is the schema as it is now: created from the spec or migrated, the same."""
    fresh = duckdb.connect(":memory:")
    for table in schema.TABLES:
        for statement in table.ddl():
            fresh.execute(statement)
    assert _described(fresh) == _described(con)


def test_a_spec_batch_loads_by_name_with_the_spec_types(con):
    """Record fields become the columns of the same name, typed as the spec says."""
    detection = make_detection("a1", country="FR", scope="nationwide")
    batch = schema.DETECTIONS.batch([detection], detection_id=["d1"])
    assert batch.schema == schema.DETECTIONS.arrow_schema()
    insert_arrow(con, "detections", batch)
    row = con.execute("SELECT detection_id, country, scope, background FROM detections").fetchall()
    assert row == [("d1", "FR", "nationwide", False)]


def test_ban_events_view_has_the_design_columns(con):
    cursor = con.execute("SELECT * FROM ban_events")
    assert [d[0] for d in cursor.description] == BAN_EVENTS_COLUMNS


def test_a_second_load_adds_no_rows(con):
    articles = [article(i, site=f"Outlet {i % 2}") for i in range(4)]
    detections = [detection(a.article_id) for a in articles]
    detections.append(
        detection(
            "art0000",
            jurisdiction="United States",
            country="US",
            announced_on=dt.date(2024, 12, 20),
            background=True,
        )
    )
    load_everything(con, articles, detections)
    first = counts(con)
    load_everything(con, articles, detections)
    assert counts(con) == first
    assert first["events"] == 1 and first["event_sources"] == 4 and first["mentions"] == 1
    assert first["alerts"] == 1 and first["stories"] == 1 and first["detections"] == 5
    assert store.load_articles(con, articles, "run-2") == 0  # nothing new


def test_ban_events_counts_distinct_outlets(con):
    articles = [article(i, site=["BBC", "BBC", "Reuters"][i]) for i in range(3)]
    load_everything(con, articles, [detection(a.article_id) for a in articles])
    (row,) = store.list_events(con)
    assert row["source_count"] == 2
    assert row["jurisdiction"] == "United Kingdom" and row["subdivision"] is None
    assert row["announced_on"] == NOW.date() and row["historical"] is False
    assert row["url"] in {a.url for a in articles}


def test_feed_failures_count_consecutively_and_validators_survive_a_304(con):
    def poll(outcome, reason, minutes, etag=None):
        result = FeedResult(
            "f",
            "https://f.example/rss",
            outcome,
            reason,
            etag=etag,
            polled_at=NOW + dt.timedelta(minutes=minutes),
        )
        store.load_feed_results(con, [result])
        return store.feed_states(con)["f"]

    assert poll(Outcome.OK, "ok", 0, etag='"a"').etag == '"a"'
    assert poll(Outcome.TEMPORARY, "timeout", 15).failure_count == 1
    assert poll(Outcome.TEMPORARY, "http_503", 30).failure_count == 2
    state = poll(Outcome.NOT_MODIFIED, "not_modified", 45)
    assert state.failure_count == 0 and state.etag == '"a"'
    # Loading the same poll again (a retried task) counts nothing twice.
    poll(Outcome.HARD, "http_404", 60)
    assert poll(Outcome.HARD, "http_404", 60).failure_count == 1


def test_window_embeddings_round_trip(con):
    old = article(1, when=NOW - dt.timedelta(days=10))
    new = article(2)
    store.load_articles(con, [old, new], "run-1")
    matrix = np.random.default_rng(0).random((2, 384), dtype=np.float32)
    store.load_embeddings(con, [old.article_id, new.article_id], "mini", matrix)
    store.load_stories(
        con, [StoryAssignment(a.article_id, f"s-{a.article_id}", 1.0) for a in (old, new)], NOW
    )
    rows = store.window_embeddings(con, NOW - dt.timedelta(days=3), "mini")
    assert rows["article_id"] == [new.article_id]
    assert rows["story_id"] == [f"s-{new.article_id}"]
    assert rows["published_at"] == [NOW] and rows["embedding"].dtype == np.float32
    np.testing.assert_allclose(rows["embedding"], matrix[1:])
    assert store.window_embeddings(con, NOW, "other-model")["article_id"] == []


def test_known_and_recent_urls_leave_temporary_failures_to_retry(con):
    ok, failed = article(1), article(2)
    failed.outcome, failed.reason = Outcome.TEMPORARY, "timeout"
    store.load_articles(con, [ok, failed], "run-1")
    assert store.known_urls(con, [ok.url, failed.url, "https://x.example/"]) == {ok.url, failed.url}
    assert store.recent_urls(con, NOW - dt.timedelta(days=1)) == {ok.url}


def test_runs_are_recorded(con):
    store.start_run(con, "run-1", NOW)
    store.finish_run(con, "run-1", PassSummary(feeds_polled=3, new_articles=2), NOW)
    row = con.execute("SELECT status, feeds_polled, new_articles, finished_at FROM runs").fetchone()
    assert row == ("finished", 3, 2, NOW)


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
    print("ready", flush=True)
    for line in sys.stdin:
        print(con.execute(line).fetchall(), flush=True)
    """
)


class Holder:
    """Another process holding a DuckDB file open (DuckDB's locks are per process)."""

    def __init__(self, path, mode: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout.readline().strip() == "ready"

    def query(self, sql: str) -> str:
        self.proc.stdin.write(sql + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def test_a_second_writer_gets_an_actionable_error(db_path):
    store.connect(db_path).close()
    holder = Holder(db_path, "rw")
    try:
        with pytest.raises(WarehouseError, match="locked by another process.*snapshot"):
            store.connect(db_path)
    finally:
        holder.close()


def test_snapshot_readers_never_block_the_writer(con, db_path, tmp_path):
    snapshot = tmp_path / "data" / "banwatch.read.duckdb"
    first = [article(i) for i in range(2)]
    load_everything(con, first, [detection(a.article_id) for a in first])
    store.publish_snapshot(con, snapshot)

    reader = Holder(snapshot, "ro")
    try:
        assert reader.query("SELECT count(*) FROM articles") == "[(2,)]"
        # The next pass loads and republishes while the analyst's session stays open.
        second = [article(i) for i in range(2, 5)]
        more = [detection(a.article_id, app="WeChat") for a in second]
        load_everything(con, second, more, now=NOW + dt.timedelta(hours=1))
        store.publish_snapshot(con, snapshot)
        # The open session keeps its consistent view of the earlier pass.
        assert reader.query("SELECT count(*) FROM articles") == "[(2,)]"
        assert reader.query("SELECT count(*) FROM ban_events") == "[(1,)]"
    finally:
        reader.close()
    fresh = Holder(snapshot, "ro")
    try:
        assert fresh.query("SELECT count(*) FROM articles") == "[(5,)]"
        assert (
            fresh.query("SELECT app FROM ban_events ORDER BY app") == "[('TikTok',), ('WeChat',)]"
        )
    finally:
        fresh.close()
    assert not list(snapshot.parent.glob(".*.tmp*"))  # no temporary file left behind


def test_open_reader_explains_a_missing_snapshot(tmp_path):
    with pytest.raises(WarehouseError, match="run `banwatch run`"):
        store.open_reader(tmp_path / "nothing.duckdb")


def test_query_events_filters_orders_and_rounds(con):
    """One query of ban_events serves the CLI listing, the digest and the demo."""
    articles = [article(i) for i in range(3)]
    earlier = NOW.date() - dt.timedelta(days=2)
    load_everything(
        con,
        articles,
        [
            detection("art0000", app="TikTok"),
            detection("art0001", app="DeepSeek", announced_on=earlier, confidence=0.8765),
            detection("art0002", app="WeChat"),
        ],
    )
    newest = [e["app"] for e in store.list_events(con)]
    assert sorted(newest[:2]) == ["TikTok", "WeChat"] and newest[2] == "DeepSeek"
    cursor = store.query_events(con, columns=("app", "confidence"), order="announced", limit=1)
    assert [d[0] for d in cursor.description] == ["app", "confidence"]
    assert cursor.fetchall() == [("DeepSeek", 0.88)]
    clipped = store.query_events(con, columns=("evidence",), clip={"evidence": 7}, limit=1)
    assert clipped.fetchall() == [("The gov",)]
    with pytest.raises(ValueError):
        store.query_events(con, columns=("app; DROP TABLE events",))


def test_events_first_seen_splits_news_from_candidates(con):
    articles = [article(0), article(1)]
    load_everything(
        con,
        articles,
        [detection("art0000", app="TikTok"), detection("art0001", app="WeChat", confidence=0.2)],
    )
    con.execute("UPDATE events SET status = 'candidate' WHERE app = 'WeChat'")
    news, candidates = store.events_first_seen(con, NOW, NOW + dt.timedelta(days=1))
    assert [e["app"] for e in news] == ["TikTok"] and [e["app"] for e in candidates] == ["WeChat"]
    assert store.events_first_seen(con, NOW + dt.timedelta(days=1), NOW + dt.timedelta(days=2)) == (
        [],
        [],
    )


def test_failed_feeds_in_the_order_asked(con):
    polls = [
        FeedResult("ok", "https://ok.example/feed", Outcome.OK, "ok", 200, polled_at=NOW),
        FeedResult(
            "gone", "https://gone.example/feed", Outcome.HARD, "http_404", 404, polled_at=NOW
        ),
        FeedResult(
            "slow", "https://slow.example/feed", Outcome.TEMPORARY, "timeout", polled_at=NOW
        ),
    ]
    store.load_feed_results(con, polls)
    rows = store.failed_feeds(con, ["slow", "ok", "gone"])
    assert [(name, outcome) for name, outcome, *_ in rows] == [
        ("slow", "temporary"),
        ("gone", "hard"),
    ]
