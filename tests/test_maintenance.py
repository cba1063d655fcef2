"""Daily maintenance: the digest email of a day's events, and checkpoint + snapshot republish."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store

from banwatch import pipeline
from banwatch.config import settings_from_dict
from tests.support.factories import make_detection
from tests.support.mailsink import MailSink

DAY = dt.date(2026, 3, 16)
SEEN = dt.datetime(2026, 3, 16, 18, tzinfo=dt.UTC)


def seeded_settings(tmp_path: Path, smtp_port: int, digest: list[str]):
    settings = settings_from_dict(
        {
            "warehouse": {"path": str(tmp_path / "bw.duckdb")},
            "alerts": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp_port,
                "digest_recipients": digest,
            },
        }
    )
    detection = make_detection(
        "a1",
        app="Telegram",
        announced_on=DAY,
        evidence="Norway barred <script>alert(1)</script> Telegram from state phones.",
        confidence=0.9,
    )
    resolution = resolve_events(
        [detection],
        {},
        seen_at={"a1": SEEN},
        recency_days=14,
        urls={"a1": "https://one.example/n"},
        outlets={"a1": "One"},
    )
    with store.connect(settings.warehouse.path) as con:
        store.apply_resolution(con, resolution)
    return settings


def test_digest_lists_the_days_events_once_escaped(tmp_path: Path) -> None:
    with MailSink() as sink:
        settings = seeded_settings(tmp_path, sink.port, ["desk@example.org"])
        assert pipeline.daily_digest(settings, DAY) == {"sent": 1, "events": 1, "candidates": 0}
        assert pipeline.daily_digest(settings, DAY + dt.timedelta(days=1))["events"] == 0
    digest = sink.messages[0]
    assert digest["Subject"] == "[banwatch] digest 2026-03-16: 1 new event"
    assert digest["To"] == "desk@example.org"
    text = digest.get_body(("plain",)).get_content()
    html = digest.get_body(("html",)).get_content()
    assert "Norway · Telegram · government devices · ban" in text
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_no_digest_without_recipients(tmp_path: Path) -> None:
    with MailSink() as sink:
        settings = seeded_settings(tmp_path, sink.port, [])
        assert pipeline.daily_digest(settings, DAY)["sent"] == 0
    assert sink.messages == []


def test_maintenance_checkpoints_and_republishes_the_snapshot(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path, 1, [])
    result = pipeline.maintenance(settings)
    assert result["bytes_after"] > 0
    with duckdb.connect(str(settings.warehouse.snapshot), read_only=True) as con:
        assert con.execute("SELECT app FROM ban_events").fetchall() == [("Telegram",)]
