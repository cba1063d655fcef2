"""Alerting on imperfect detection: only confident news is emailed, the rest waits for review.

Passes go through `pipeline.load` and `pipeline.send_alerts` (real DuckDB file in tmp_path,
real loopback SMTP server); detections are built directly, as the detector would emit them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pytest
import tomli_w
from banwatch.warehouse import store
from banwatch.warehouse.migrations import MIGRATIONS
from click.testing import CliRunner

from banwatch import pipeline
from banwatch.cli import cli
from banwatch.config import Settings, load_settings
from banwatch.records import Article, Detection
from banwatch.staging import write_records
from tests.support.factories import make_detection
from tests.support.mailsink import MailSink

NOW = dt.datetime(2026, 3, 16, 9, tzinfo=dt.UTC)
THRESHOLD = 0.8  # alerts.min_confidence, set in the config (the default may be retuned)
LOW, HIGH = 0.5, 0.9


class Desk:
    """One warehouse, its config file and the SMTP sink its alerts and digests reach."""

    def __init__(self, root: Path, sink: MailSink):
        self.root = root
        self.sink = sink
        self.config = root / "banwatch.toml"
        config = {
            "warehouse": {"path": (root / "bw.duckdb").as_posix()},
            "staging": {"dir": (root / "staging").as_posix()},
            "alerts": {
                "smtp_host": "127.0.0.1",
                "smtp_port": sink.port,
                "recipients": ["analysts@example.org"],
                "digest_recipients": ["desk@example.org"],
                "min_confidence": THRESHOLD,
            },
            "feeds": [{"name": "wire", "url": "http://127.0.0.1:1/feed.xml"}],
        }
        self.config.write_text(tomli_w.dumps(config), encoding="utf-8")
        self.settings: Settings = load_settings(self.config)
        self.passes = 0

    def run(self, detections: Sequence[Detection], now: dt.datetime) -> dict[str, Any]:
        """Load one batch through `pipeline.load` (staged as the pass stages it), then send."""
        self.passes += 1
        run_dir = self.root / "staging" / f"run{self.passes}"
        run_dir.mkdir(parents=True)
        articles = [article(d.article_id, now) for d in detections]
        staged: dict[str, tuple[list[Any], dict[str, Any]]] = {
            "state": ([], {"run_id": f"test-{self.passes}"}),
            "poll": ([], {}),
            "articles": (articles, {}),
            "stories": ([], {"ids": [], "matrix": None, "model": "none"}),
            "detections": (list(detections), {}),
        }
        for name, (records, meta) in staged.items():
            write_records(run_dir / f"{name}.jsonl", records, meta)
        staged = pipeline.Staged(
            [str(run_dir / "poll.jsonl")],
            [str(run_dir / "articles.jsonl")],
            str(run_dir / "stories.jsonl"),
            str(run_dir / "detections.jsonl"),
        )
        loaded = pipeline.load(self.settings, str(run_dir), staged, now)
        sent = pipeline.send_alerts(self.settings)
        pipeline.publish_snapshot(self.settings)  # a pass publishes once, after its last write
        return {**loaded.to_xcom(), **sent}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the analysts' snapshot, as an analyst would."""
        with duckdb.connect(str(self.settings.warehouse.snapshot), read_only=True) as con:
            return con.execute(sql).fetchall()

    def mail(self) -> list[Any]:
        """Emails received (the sink keeps one before it answers 250: no waiting needed)."""
        return list(self.sink.messages)

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(cli, [*args, "--config", str(self.config)])
        assert result.exit_code == 0, result.output
        return result.output


def article(article_id: str, when: dt.datetime) -> Article:
    return Article(
        article_id=article_id,
        url=f"https://{article_id}.example/story",
        feed_name="wire",
        title=f"Story {article_id}",
        text="Ministers said the messaging app would be removed from official handsets.",
        published_at=when,
        site_name=f"Outlet {article_id}",  # one outlet per article
        fetched_at=when,
    )


def wechat_ban(article_id: str, confidence: float, **kw: Any) -> Detection:
    fields = {"app": "WeChat", "announced_on": NOW.date(), "confidence": confidence, **kw}
    return make_detection(article_id, **fields)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    with MailSink() as sink:
        yield Desk(tmp_path, sink)


def test_a_low_confidence_event_is_a_candidate_never_emailed_but_in_the_digest(
    desk: Desk,
) -> None:
    # Two unsure outlets: noisy-OR would make them 0.8 and email them; the max keeps 0.6.
    counts = desk.run([wechat_ban("a1", LOW), wechat_ban("a2", 0.6)], NOW)
    assert counts["new_events"] == 1 and counts["candidates"] == 1 and counts["sent"] == 0
    ((event_id, status, confidence),) = desk.query(
        "SELECT event_id, status, confidence FROM ban_event_candidates"
    )
    assert (status, confidence) == ("candidate", 0.6)
    assert desk.query("SELECT count(*) FROM ban_events") == [(0,)]
    assert desk.query("SELECT count(*) FROM alerts") == [(0,)]
    assert desk.mail() == []

    listed = desk.cli("events", "--candidates", "--csv").splitlines()
    assert listed[0].startswith("event_id,announced_on,jurisdiction")
    assert [row.split(",")[0] for row in listed[1:]] == [event_id]
    assert desk.cli("events", "--csv").splitlines()[1:] == []

    assert pipeline.daily_digest(desk.settings, NOW.date())["candidates"] == 1
    (digest,) = desk.mail()
    assert digest["Subject"] == "[banwatch] digest 2026-03-16: 0 new events, 1 to review"
    text = digest.get_body(("plain",)).get_content()
    news, review = text.split("Candidates awaiting review (1)")
    assert "No new events." in news
    assert "Norway · WeChat · government devices · ban" in review and event_id in review
    assert "confidence 0.60" in review
    assert event_id in digest.get_body(("html",)).get_content()


def test_a_confident_later_source_promotes_the_candidate_and_one_email_goes_out(
    desk: Desk,
) -> None:
    desk.run([wechat_ban("a1", LOW)], NOW)
    (event_id,) = desk.query("SELECT event_id FROM ban_event_candidates")[0]
    assert desk.mail() == []

    later = NOW + dt.timedelta(hours=3)
    counts = desk.run([wechat_ban("a2", HIGH)], later)
    assert counts["new_events"] == 0 and counts["sent"] == 1
    assert desk.query("SELECT event_id, status, confidence, source_count FROM ban_events") == [
        (event_id, "news", HIGH, 2)
    ]
    assert desk.query("SELECT count(*) FROM ban_event_candidates") == [(0,)]
    desk.run([wechat_ban("a3", 0.95)], later + dt.timedelta(hours=1))  # more coverage
    desk.run([], later + dt.timedelta(hours=2))  # and a quiet pass
    (alert,) = desk.mail()  # exactly one email, however much coverage follows
    assert alert["Message-ID"] == f"<{event_id}@example.org>"
    assert "WeChat" in alert["Subject"]
    assert desk.query("SELECT status, queued_at FROM alerts") == [("sent", later)]


def test_a_historical_event_is_never_emailed_even_when_confident(desk: Desk) -> None:
    old = (NOW - dt.timedelta(days=60)).date()  # outside the 14-day recency window
    desk.run([wechat_ban("a1", LOW, announced_on=old)], NOW)
    assert desk.query("SELECT status, historical FROM ban_event_candidates") == [
        ("candidate", True)
    ]
    counts = desk.run([wechat_ban("a2", HIGH, announced_on=old)], NOW + dt.timedelta(hours=1))
    assert counts["sent"] == 0
    assert desk.query("SELECT status, historical FROM ban_events") == [("historical", True)]
    desk.run([make_detection("a3", app="Signal", announced_on=old, confidence=HIGH)], NOW)
    assert sorted(desk.query("SELECT app, status FROM ban_events")) == [
        ("Signal", "historical"),
        ("WeChat", "historical"),
    ]
    assert desk.query("SELECT count(*) FROM alerts") == [(0,)]
    assert desk.mail() == []
    assert desk.cli("events", "--csv").splitlines()[1:] == []  # historical only with --all
    assert len(desk.cli("events", "--all", "--csv").splitlines()[1:]) == 2


def test_confident_news_is_emailed_at_once(desk: Desk) -> None:
    counts = desk.run([wechat_ban("a1", THRESHOLD)], NOW)  # at the threshold: confident
    assert counts["sent"] == 1 and counts["candidates"] == 0
    assert desk.query("SELECT status FROM ban_events") == [("news",)]


def test_both_views_comment_every_column(desk: Desk) -> None:
    desk.run([], NOW)
    rows = desk.query(
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE table_name IN ('ban_events', 'ban_event_candidates')"
    )
    columns: dict[str, list[str]] = {}
    for table, column, comment in rows:
        assert comment, f"{table}.{column} has no comment"
        columns.setdefault(table, []).append(column)
    assert columns["ban_events"] == columns["ban_event_candidates"]
    assert "status" in columns["ban_events"]
    views = desk.query(
        "SELECT view_name, comment FROM duckdb_views() WHERE view_name LIKE 'ban_event%'"
    )
    assert len(views) == 2 and all(comment for _, comment in views)
    assert desk.query("SELECT comment FROM duckdb_columns() WHERE column_name = 'status' "
                      "AND table_name = 'events'")[0][0]  # fmt: skip


def test_events_stored_before_the_migration_keep_their_alerting(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with duckdb.connect(str(db)) as con:  # a warehouse as the previous release left it
        con.execute(
            "CREATE TABLE schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)"
        )
        for migration in MIGRATIONS[:2]:
            migration(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, now())", [migration.__name__])
        con.execute(
            "INSERT INTO events (event_id, app, confidence, historical) "
            "VALUES ('e-news', 'TikTok', 0.3, false), ('e-old', 'TikTok', 0.9, true)"
        )
    with store.connect(db) as con:
        assert con.execute("SELECT event_id, status FROM events ORDER BY 1").fetchall() == [
            ("e-news", "news"),  # already alerted under the old rule: never a candidate now
            ("e-old", "historical"),
        ]
        assert con.execute("SELECT count(*) FROM ban_event_candidates").fetchone() == (0,)
