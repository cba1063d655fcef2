"""The daily digest is sent only for a day with something in it, and at most once per day;
`banwatch run --no-alerts` fills the outbox but emails nothing until the next normal pass.

Real DuckDB files in tmp_path, a real loopback SMTP server, the sample newsroom on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from pathlib import Path

import duckdb
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store
from click.testing import CliRunner

from banwatch import pipeline
from banwatch.cli import cli
from banwatch.config import Settings, settings_from_dict
from banwatch.demo import write_config
from banwatch.sample import load_sample
from tests.support.factories import make_detection
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom

DAY = dt.date(2026, 5, 4)
SEEN = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def digest_settings(tmp_path: Path, smtp_port: int) -> Settings:
    return settings_from_dict(
        {
            "warehouse": {"path": str(tmp_path / "bw.duckdb")},
            "alerts": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "digest_recipients": ["desk@example.org"],
            },
        }
    )


def seed_one_event(settings: Settings) -> None:
    detection = make_detection(
        "d1",
        app="Signal",
        announced_on=DAY,
        evidence="The ministry removed Signal from every official handset this morning.",
        confidence=0.9,
    )
    resolution = resolve_events(
        [detection],
        {},
        seen_at={"d1": SEEN},
        recency_days=14,
        urls={"d1": "https://paper.example/signal"},
        outlets={"d1": "Paper"},
    )
    with store.connect(settings.warehouse.path) as con:
        store.apply_resolution(con, resolution)


def digest_rows(settings: Settings) -> list[tuple]:
    with duckdb.connect(str(settings.warehouse.path), read_only=True) as con:
        return con.execute("SELECT day, status, attempts, events FROM digests").fetchall()


def test_a_day_without_events_or_candidates_sends_no_digest(tmp_path: Path) -> None:
    with MailSink() as sink:
        settings = digest_settings(tmp_path, sink.port)
        with store.connect(settings.warehouse.path):
            pass  # an empty, migrated warehouse
        result = pipeline.daily_digest(settings, DAY)
    assert result["sent"] == 0 and result["skipped"] == 1
    assert sink.messages == []
    assert digest_rows(settings) == []


def test_a_day_with_an_event_is_digested_once_dated_when_sent(tmp_path: Path) -> None:
    with MailSink() as sink:
        settings = digest_settings(tmp_path, sink.port)
        seed_one_event(settings)
        first = pipeline.daily_digest(settings, DAY)
        second = pipeline.daily_digest(settings, DAY)  # by hand after the schedule, say
    assert first == {"sent": 1, "events": 1, "candidates": 0}
    assert second["sent"] == 0 and second["reason"] == "already sent"
    assert len(sink.messages) == 1
    digest = sink.messages[0]
    assert digest["Subject"] == "[banwatch] digest 2026-05-04: 1 new event"
    midnight = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    assert email.utils.parsedate_to_datetime(digest["Date"]) != midnight
    assert digest_rows(settings) == [(DAY, "sent", 1, 1)]


def test_a_failed_digest_is_sent_by_the_next_call(tmp_path: Path) -> None:
    with MailSink() as sink:
        port = sink.port
    settings = digest_settings(tmp_path, port)  # nobody listens there any more
    seed_one_event(settings)
    try:
        pipeline.daily_digest(settings, DAY)
    except Exception:
        pass
    else:
        raise AssertionError("the digest was sent to a closed port")
    assert digest_rows(settings)[0][1] == "pending"
    with MailSink() as sink:
        settings = digest_settings(tmp_path, sink.port)
        assert pipeline.daily_digest(settings, DAY)["sent"] == 1
    assert len(sink.messages) == 1
    assert digest_rows(settings) == [(DAY, "sent", 2, 1)]


def alert_states(db: Path) -> list[tuple[str, str, bool]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "SELECT a.event_id, a.status, e.historical FROM alerts a "
            "JOIN events e USING (event_id) ORDER BY a.event_id"
        ).fetchall()


def run(config: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--quiet", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)


def test_no_alerts_pass_holds_the_outbox_for_the_next_pass(tmp_path: Path) -> None:
    with Newsroom(load_sample(max_phase=1, now=NOW)) as newsroom, MailSink() as sink:
        config = write_config(tmp_path, newsroom, sink.port, decider="rules", min_confidence=0.5)
        db = tmp_path / "banwatch.duckdb"
        run(config, "--no-alerts")
        held = alert_states(db)
        assert sink.messages == []
        assert held and all(status == "pending" for _, status, _ in held)
        assert not any(historical for _, _, historical in held)  # only news is ever queued

        run(config)
        after = alert_states(db)
        assert [status for _, status, _ in after] == ["sent"] * len(held)
        assert len(sink.messages) == len(held)
        assert len({m["Subject"] for m in sink.messages}) == len(held)

        run(config)
        assert len(sink.messages) == len(held)
