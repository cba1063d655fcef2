"""Old news is never emailed, by any path: a `--replay` backfill of 2015-2020 pages (with and
without --no-alerts), the next normal pass, `alerts resend`, the daily digest and `reprocess`.

`alerts.recency_days` decides when banwatch first sees an event. A replay counts each article
as first seen when it was published (so the events keep the status they would have had then),
but banwatch itself first saw them in the replay's pass, years later: nothing about them may
reach the mailbox. Real components: loopback newsroom, aiosmtpd sink, DuckDB file, the CLI.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from banwatch import pipeline
from banwatch.cli import cli
from banwatch.config import load_settings
from banwatch.demo import write_config
from tests.support.newsroom import NewsItem
from tests.support.pages import article_page

FILLER = (
    "Officials said the measure would be reviewed after six months and that other services "
    "were not affected by the decision.",
    "Opposition politicians criticised the move, saying it had been rushed through without a "
    "proper debate or a public consultation.",
)
ARCHIVE = [  # (outlet, slug, published, title, lead): one old event each
    (
        "archive-wire",
        "bolivia-telegram",
        dt.datetime(2015, 6, 10, 9, tzinfo=dt.UTC),
        "Bolivia blocks Telegram nationwide",
        "Bolivia blocked the messaging app Telegram nationwide on Tuesday, the telecoms "
        "regulator said, after a court ordered providers to cut access.",
    ),
    (
        "archive-wire",
        "ghana-wechat",
        dt.datetime(2017, 9, 12, 9, tzinfo=dt.UTC),
        "Ghana bars WeChat from government phones",
        "The government of Ghana said on Monday that civil servants may no longer install "
        "WeChat on their work phones, citing security concerns.",
    ),
    (
        "old-times",
        "vietnam-signal",
        dt.datetime(2019, 2, 5, 9, tzinfo=dt.UTC),
        "Vietnam blocks Signal nationwide",
        "Vietnam blocked the messaging app Signal nationwide on Monday, the information "
        "ministry said, after a court order.",
    ),
    (
        "old-times",
        "norway-zoom",
        dt.datetime(2020, 11, 17, 9, tzinfo=dt.UTC),
        "Norway bans Zoom on government laptops",
        "The government of Norway said on Tuesday that ministries may no longer use Zoom on "
        "their work laptops, citing security concerns about the video service.",
    ),
]
OLD_PLACES = ("Bolivia", "Ghana", "Vietnam", "Norway")
FRESH = (
    "Portugal bars TikTok from government phones",
    "The government of Portugal said today that civil servants may no longer install TikTok "
    "on their work phones, citing security concerns.",
)


def item(outlet: str, slug: str, published: dt.datetime, title: str, lead: str) -> NewsItem:
    return NewsItem(
        outlet=outlet,
        slug=slug,
        title=title,
        summary=lead,
        published=published,
        html=article_page(title, (lead, *FILLER), outlet=outlet, published=published),
    )


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def mentions_old_event(message) -> list[str]:
    body = message.get_body(("plain",)).get_content()
    return [p for p in OLD_PLACES if p in body or p in message["Subject"]]


@pytest.mark.parametrize("no_alerts", [True, False], ids=["replay-no-alerts", "replay-alerts"])
def test_an_archive_backfill_is_never_emailed(tmp_path: Path, newsroom, sink, no_alerts: bool):
    newsroom.add(item(*row) for row in ARCHIVE)
    config = write_config(tmp_path, newsroom, sink.port, decider="rules", min_confidence=0.5)
    config.write_text(
        config.read_text().replace(
            "recency_days = 14\n", 'recency_days = 14\ndigest_recipients = ["desk@example.org"]\n'
        )
    )
    settings = load_settings(config)

    # 1. the backfill: four events that were news when published, years ago
    invoke("run", "--replay", "--config", str(config), *(["--no-alerts"] if no_alerts else []))
    with duckdb.connect(settings.warehouse.path, read_only=True) as con:
        stored = con.execute("SELECT jurisdiction, status FROM events ORDER BY 1").fetchall()
        queued = con.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
    assert stored == [(p, "news") for p in sorted(OLD_PLACES)]  # news at the time
    assert queued == 4
    assert sink.messages == []

    # 2. the next normal pass, with one fresh story: only that one is emailed
    now = dt.datetime.now(dt.UTC)
    newsroom.add([item("old-times", "portugal-tiktok", now - dt.timedelta(hours=1), *FRESH)])
    invoke("run", "--config", str(config))
    assert [m["Subject"] for m in sink.messages] == [
        "[banwatch] Portugal bans TikTok on government devices"
    ]
    listed = invoke("alerts", "list", "--config", str(config), "--json")
    assert listed.count('"status": "skipped"') == 4
    assert listed.count("old news: announced 20") == 4

    # 3. an operator resends everything that failed, and one old alert by hand: still nothing
    with duckdb.connect(settings.warehouse.path) as con:
        con.execute(
            "UPDATE alerts SET status = 'failed' WHERE event_id IN (SELECT event_id FROM events "
            "WHERE jurisdiction IN ('Bolivia', 'Ghana'))"
        )
        (vietnam,) = con.execute(
            "SELECT event_id FROM events WHERE jurisdiction = 'Vietnam'"
        ).fetchall()[0]
    assert invoke("alerts", "resend", "--all-failed", "--config", str(config)).count("queued") == 2
    invoke("alerts", "resend", vietnam, "--config", str(config))
    invoke("run", "--config", str(config))
    assert len(sink.messages) == 1

    # 4. the daily digest lists today's news only (docs/alerts.md): the fresh event
    sent = pipeline.daily_digest(settings, now.date())
    assert sent["sent"] == 1 and sent["events"] == 1
    assert len(sink.messages) == 2
    assert "Portugal" in sink.messages[1].get_body(("plain",)).get_content()

    # 5. reprocessing rebuilds the same events, as old as they were, and emails nothing
    out = invoke("reprocess", "--config", str(config))
    assert out == "no changes\n"
    invoke("run", "--config", str(config))
    assert len(sink.messages) == 2
    assert [mentions_old_event(m) for m in sink.messages] == [[], []]
