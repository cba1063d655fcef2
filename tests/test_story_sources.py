"""An event's sources are its whole story's outlets (`events.story_sources`), over real passes.

Two outlets report that Ecuador blocks Signal nationwide; a day later a third outlet runs the
same story without naming the app ("the encrypted messenger"). The detector cannot read an
app ban from that article, but the stories step groups it with their coverage, so it counts as
a source of their event. Switched off, the event keeps its two sources.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from banwatch import pipeline
from banwatch.config import settings_from_dict
from banwatch.reprocess import reprocess
from tests.support.mailsink import MailSink
from tests.support.newsroom import NewsItem, Newsroom
from tests.support.pages import article_page

START = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
OUTLETS = ("andes-courier", "quito-ledger", "pacific-notes")
FILLER = (
    "Civil-society groups said the order left journalists without a safe way to reach sources, "
    "and lawyers for the company said they would appeal.",
    "The telecoms regulator said providers had until midnight to comply and that other "
    "messaging services were not affected.",
)
NAMED = [
    (
        "Ecuador blocks the Signal messaging app nationwide",
        "On Monday a judge in Quito had Ecuador's network operators cut off the encrypted "
        "messaging app Signal across the country, and the watchdog enforced it.",
    ),
    (
        "Ecuador orders nationwide block of Signal messaging app",
        "Internet providers in Ecuador were told on Monday to block Signal, the encrypted "
        "messaging app, nationwide after a court ruled on a prosecutor's request.",
    ),
]
UNNAMED = (
    "Ecuador blocks the encrypted messenger nationwide",
    "On Monday a judge in Quito had Ecuador's network operators cut off the encrypted "
    "messenger across the country, and the watchdog enforced it.",
)


def item(outlet: str, slug: str, title: str, lead: str, published: dt.datetime) -> NewsItem:
    return NewsItem(
        outlet=outlet,
        slug=slug,
        title=title,
        summary=lead,
        published=published,
        html=article_page(title, (lead, *FILLER), outlet=outlet, published=published),
    )


def run(tmp: Path, story_sources: bool) -> tuple[list[tuple], int]:
    """Two passes: the named reports, then the unnamed one a day later."""
    with Newsroom() as newsroom, MailSink() as sink:
        newsroom.add(
            [
                item(OUTLETS[n], f"named-{n}", *NAMED[n], START + dt.timedelta(hours=n))
                for n in (0, 1)
            ]
        )
        settings = settings_from_dict(
            {
                "warehouse": {"path": str(tmp / "bw.duckdb")},
                "staging": {"dir": str(tmp / "staging")},
                "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 5},
                "alerts": {"smtp_host": "127.0.0.1", "smtp_port": sink.port},
                "events": {"story_sources": story_sources},
                "feeds": [{"name": o, "url": newsroom.feed_url(o)} for o in OUTLETS],
            }
        )
        pipeline.run_pass(settings, now=START + dt.timedelta(hours=4))
        newsroom.add([item(OUTLETS[2], "unnamed", *UNNAMED, START + dt.timedelta(days=1))])
        second = pipeline.run_pass(settings, now=START + dt.timedelta(days=1, hours=2))
        if story_sources:  # re-detecting everything keeps the story mate a source
            reprocess(settings)
        emails = len(sink.messages)
    with duckdb.connect(str(tmp / "bw.duckdb"), read_only=True) as con:
        events = con.execute(
            "SELECT country, app, action, source_count, "
            "(SELECT count(*) FROM event_sources s WHERE s.event_id = b.event_id) "
            "FROM ban_events b"
        ).fetchall()
        # does the unnamed report share a story with one of the event's own readings?
        shared = con.execute(
            "SELECT count(*) FROM articles a JOIN articles m ON m.story_id = a.story_id "
            "JOIN event_sources s ON s.article_id = m.article_id "
            "WHERE a.title = ? AND m.article_id <> a.article_id",
            [UNNAMED[0]],
        ).fetchone()[0]
    assert second.new_events == 0  # the unnamed report is never an event of its own
    return events + [("shares a story with a source", shared > 0)], emails


@pytest.fixture(scope="module")
def on(tmp_path_factory: pytest.TempPathFactory):
    return run(tmp_path_factory.mktemp("story-sources-on"), True)


@pytest.fixture(scope="module")
def off(tmp_path_factory: pytest.TempPathFactory):
    return run(tmp_path_factory.mktemp("story-sources-off"), False)


def test_the_unnamed_report_is_grouped_with_the_named_ones(on) -> None:
    rows, _ = on
    assert rows[-1] == ("shares a story with a source", True)


def test_the_unnamed_report_counts_as_a_source_of_its_storys_event(on) -> None:
    """... after both passes and after `reprocess` rebuilt the event from stored articles."""
    rows, emails = on
    assert rows[:-1] == [("EC", "Signal", "ban", 3, 3)]
    assert emails == 1  # a new source of a known event sends no second email


def test_switched_off_the_event_keeps_only_its_own_readings(off) -> None:
    rows, _ = off
    assert rows[:-1] == [("EC", "Signal", "ban", 2, 2)]
