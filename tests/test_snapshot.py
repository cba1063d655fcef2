"""The analysts' snapshot (issue 10): only the analysts' part of the warehouse, every view with
its comments, published once per pass, and readable fresh from a long-lived process.

Real DuckDB files in tmp_path; the pass tests run `banwatch run` (CliRunner) over the sample
newsroom on 127.0.0.1 with alerts to a loopback SMTP sink.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import snapshot, store
from click.testing import CliRunner

from banwatch import pipeline
from banwatch.cli import cli
from banwatch.config import load_settings
from banwatch.demo import write_config
from banwatch.errors import WarehouseError
from banwatch.records import Article, FeedResult, Outcome
from banwatch.sample import load_sample
from tests.support.factories import make_detection
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom

SEEN = dt.datetime(2026, 3, 16, 18, tzinfo=dt.UTC)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def an_article(article_id: str) -> Article:
    return Article(
        article_id=article_id,
        url=f"https://paper.example/{article_id}",
        feed_name="paper",
        title=f"Ministry bars a messaging app from work phones ({article_id})",
        text="The ministry told staff to remove the app from official phones by Friday.",
        published_at=SEEN,
        site_name="The Paper",
        raw_html_gz=gzip.compress(b"<html><body>the page as fetched</body></html>"),
        fetched_at=SEEN,
    )


def fill(con: duckdb.DuckDBPyConnection, ids: list[str], app: str = "Signal") -> None:
    """Articles with raw HTML and embeddings, a feed with validators, and their one event."""
    store.load_feed_results(
        con,
        [
            FeedResult(
                feed_name="paper",
                url="https://paper.example/feed.xml",
                outcome=Outcome.OK,
                reason="ok",
                status_code=200,
                etag='"v1"',
                last_modified="Mon, 16 Mar 2026 18:00:00 GMT",
                polled_at=SEEN,
            )
        ],
    )
    store.load_articles(con, [an_article(i) for i in ids], "run-1")
    store.load_embeddings(con, ids, "minilm", np.ones((len(ids), 4), dtype=np.float32))
    detections = [make_detection(i, app=app, announced_on=SEEN.date()) for i in ids]
    store.apply_resolution(
        con,
        resolve_events(
            detections,
            {},
            seen_at=dict.fromkeys(ids, SEEN),
            recency_days=14,
            urls={i: f"https://paper.example/{i}" for i in ids},
            outlets=dict.fromkeys(ids, "The Paper"),
        ),
    )


def comments(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, set]:
    """Table, view and column comments of one database's main schema."""
    where = f"database_name = '{database}' AND schema_name = 'main' AND NOT internal"

    def rows(sql: str) -> set:
        return set(con.execute(sql.format(where=where)).fetchall())

    return {
        "tables": rows("SELECT table_name, comment FROM duckdb_tables() WHERE {where}"),
        "views": rows("SELECT view_name, comment FROM duckdb_views() WHERE {where}"),
        "columns": rows(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE {where}"
        ),
    }


@pytest.fixture
def published(tmp_path: Path) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A warehouse holding store-only data, an extra commented view, and its published snapshot."""
    con = store.connect(tmp_path / "bw.duckdb")
    fill(con, ["a1", "a2"])
    # a view someone adds later: publish must take it from the catalog, not from a list
    con.execute(
        "CREATE VIEW apps_seen AS SELECT app, count(*) AS events FROM ban_events GROUP BY app"
    )
    con.execute("COMMENT ON VIEW apps_seen IS 'Events per app.'")
    con.execute("COMMENT ON COLUMN apps_seen.events IS 'How many events name the app.'")
    target = store.publish_snapshot(con, tmp_path / "bw.read.duckdb")
    yield con, target
    con.close()


def test_the_snapshot_holds_no_raw_html_embeddings_or_feed_validators(published) -> None:
    _, target = published
    with snapshot.open_latest(target) as reader:
        tables = {r[0] for r in reader.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        article_columns = {
            r[0] for r in reader.execute("SELECT column_name FROM (DESCRIBE articles)").fetchall()
        }
        feed_columns = {
            r[0] for r in reader.execute("SELECT column_name FROM (DESCRIBE feeds)").fetchall()
        }
        assert "article_embeddings" not in tables
        assert "raw_html_gz" not in article_columns and {"title", "text", "url"} <= article_columns
        assert not {"etag", "last_modified"} & feed_columns and "last_polled_at" in feed_columns
        assert {"events", "event_sources", "mentions", "detections", "stories", "runs"} <= tables
        assert {"alerts", "schema_migrations"} <= tables  # which schema version the file is
        assert reader.execute("SELECT count(*) FROM articles").fetchone() == (2,)
        # no keys, no indexes: nothing analysts need
        assert reader.execute("SELECT count(*) FROM duckdb_indexes()").fetchone() == (0,)
        assert reader.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
        ).fetchone() == (0,)  # fmt: skip


def test_every_view_is_published_with_its_comments(published) -> None:
    con, target = published
    source = comments(con, con.execute("SELECT current_database()").fetchone()[0])
    with snapshot.open_latest(target) as reader:
        copied = comments(reader, "snapshot")
        assert copied["views"] == source["views"]
        assert {"ban_events", "ban_event_candidates", "apps_seen"} <= {
            v for v, _ in copied["views"]
        }
        assert ("apps_seen", "Events per app.") in copied["views"]
        assert ("apps_seen", "events", "How many events name the app.") in copied["columns"]
        # every comment of what was copied is there, the store-only columns' aside
        store_only = {("articles", "raw_html_gz"), ("feeds", "etag"), ("feeds", "last_modified")}
        expected = {c for c in source["columns"] if c[0] != "article_embeddings"}
        assert copied["columns"] == {c for c in expected if c[:2] not in store_only}
        assert copied["tables"] == {t for t in source["tables"] if t[0] != "article_embeddings"}
        assert any(comment for _, comment in copied["tables"])
        for view, _ in copied["views"]:  # each one answers on its own
            reader.execute(f"SELECT * FROM {view} LIMIT 1").fetchall()
        assert reader.execute("SELECT app, events FROM apps_seen").fetchall() == [("Signal", 1)]


def test_a_view_on_the_store_fails_the_publication_and_keeps_the_old_snapshot(published) -> None:
    con, target = published
    before = target.read_bytes()
    con.execute("CREATE VIEW page_sizes AS SELECT octet_length(raw_html_gz) AS n FROM articles")
    with pytest.raises(WarehouseError, match="view page_sizes cannot be published"):
        store.publish_snapshot(con, target)
    assert target.read_bytes() == before
    assert not list(target.parent.glob(".*.tmp*"))


def test_open_latest_sees_a_newer_snapshot_while_an_old_connection_is_open(published) -> None:
    con, target = published
    held = duckdb.connect(str(target), read_only=True)  # a notebook's first connection
    reader = store.open_reader(target)  # a `banwatch sql`-style one, also kept open
    try:
        assert held.execute("SELECT count(*) FROM articles").fetchone() == (2,)
        fill(con, ["a3"], app="Viber")
        store.publish_snapshot(con, target)

        # DuckDB's instance cache: a plain connect in this process still shows the old file
        again = duckdb.connect(str(target), read_only=True)
        assert again.execute("SELECT count(*) FROM articles").fetchone() == (2,)
        again.close()
        # the documented way reads the file now at the path
        with snapshot.open_latest(target) as fresh:
            assert fresh.execute("SELECT count(*) FROM articles").fetchone() == (3,)
            assert fresh.execute("SELECT app FROM ban_events ORDER BY app").fetchall() == [
                ("Signal",),
                ("Viber",),
            ]
        with store.open_reader(target) as locked:
            assert locked.execute("SELECT count(*) FROM articles").fetchone() == (3,)
        assert reader.execute("SELECT count(*) FROM articles").fetchone() == (2,)  # its own view
    finally:
        held.close()
        reader.close()


# ---------------------------------------------------------------- once per pass


class Publications(logging.Handler):
    """Counts 'published snapshot' records of warehouse.snapshot (the CLI resets root logging)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += record.getMessage().startswith("published snapshot")


@pytest.fixture
def publications() -> Iterator[Publications]:
    logger = logging.getLogger("banwatch.warehouse.snapshot")
    handler, level = Publications(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="module")
def sample_newsroom() -> Iterator[Newsroom]:
    with Newsroom(load_sample(max_phase=1, now=NOW)) as nr:
        yield nr


def test_a_pass_publishes_once_after_its_alerts(
    tmp_path: Path, sample_newsroom: Newsroom, publications: Publications
) -> None:
    with MailSink() as sink:
        config = write_config(tmp_path, sample_newsroom, sink.port)
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--quiet"])
    assert result.exit_code == 0, result.output
    assert publications.count == 1
    with snapshot.open_latest(tmp_path / "banwatch.read.duckdb") as reader:
        assert reader.execute("SELECT status FROM runs").fetchall() == [("finished",)]
        statuses = {r[0] for r in reader.execute("SELECT status FROM alerts").fetchall()}
        assert statuses == {"sent"}  # published after the alerts went out


def test_a_pass_that_fails_after_its_load_still_publishes(
    tmp_path: Path, sample_newsroom: Newsroom, publications: Publications
) -> None:
    with MailSink() as sink:
        settings = load_settings(write_config(tmp_path, sample_newsroom, sink.port))

        def progress(stage: str, counts: dict) -> None:
            if stage == "load":  # the load has committed; the pass dies before its alerts
                raise RuntimeError("disk on fire")

        with pytest.raises(RuntimeError, match="disk on fire"):
            pipeline.run_pass(settings, progress=progress)
    assert publications.count == 1
    with snapshot.open_latest(settings.warehouse.snapshot) as reader:
        assert reader.execute("SELECT status FROM runs").fetchall() == [("failed",)]
        assert reader.execute("SELECT count(*) FROM ban_events").fetchone()[0] > 0
        assert {r[0] for r in reader.execute("SELECT status FROM alerts").fetchall()} == {"pending"}
