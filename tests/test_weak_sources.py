"""A weak reading (below `detect.min_confidence`, at or above `detect.join_confidence`) adds
its article as a source of an event a surer reading started, over real passes; it never starts
one and never sends an email.

One outlet reports that Ecuador blocks Signal; a second outlet only relays users' reports of
outages "after operators were told to restrict the app". The detector reads a ban from the
second too, but unsure of it. The thresholds are set around that article's own confidence, as
the detector gives it now, so the test checks the setting's path through `banwatch run` and
`reprocess`, not the model's numbers. Story sources are off, so only the weak reading can make
the second article a source.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from banwatch.enrich.detect import detect_ban_events
from banwatch.ingest.extract import extract_page

from banwatch import pipeline
from banwatch.config import settings_from_dict
from banwatch.records import Article
from banwatch.reprocess import reprocess
from tests.support.mailsink import MailSink
from tests.support.newsroom import NewsItem, Newsroom
from tests.support.pages import article_page

START = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
SURE = (
    "Ecuador blocks the Signal messaging app nationwide",
    "On Monday a judge in Quito had Ecuador's network operators cut off the encrypted "
    "messaging app Signal across the country.",
)
UNSURE = (
    "Signal users in Ecuador report outages",
    "Some people in Ecuador could not send Signal messages on Monday; operators may have been "
    "asked to restrict the app.",
)
FILLER = ("Lawyers for the company said they would appeal the order in the coming days.",)


def page(outlet: str, title: str, lead: str, published: dt.datetime) -> str:
    return article_page(title, (lead, *FILLER), outlet=outlet, published=published)


def confidence(title: str, lead: str) -> float:
    """The detector's confidence in its most probable reading of the article's page, extracted
    as a pass extracts it."""
    found = extract_page(page("probe", title, lead, START))
    assert found is not None
    article = Article(
        "probe", "https://example.org/p", "probe", title, found["text"], START, language="en"
    )
    readings, _ = detect_ban_events([article], min_confidence=0.0)
    return max(d.confidence for d in readings if not d.background)


@pytest.fixture(scope="module")
def floors() -> tuple[float, float]:
    sure, unsure = confidence(*SURE), confidence(*UNSURE)
    assert unsure + 0.1 < sure, "the two reports no longer differ in confidence"
    return unsure + 0.05, unsure - 0.05  # min_confidence, join_confidence


def run(tmp: Path, min_confidence: float, join_confidence: float) -> tuple[list[tuple], int]:
    with Newsroom() as newsroom, MailSink() as sink:
        for n, (outlet, (title, lead)) in enumerate((("a-wire", SURE), ("b-desk", UNSURE))):
            published = START + dt.timedelta(hours=n)
            html = page(outlet, title, lead, published)
            newsroom.add([NewsItem(outlet, f"r{n}", title, lead, published, html=html)])
        settings = settings_from_dict(
            {
                "warehouse": {"path": str(tmp / "bw.duckdb")},
                "staging": {"dir": str(tmp / "staging")},
                "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 5},
                "alerts": {"smtp_host": "127.0.0.1", "smtp_port": sink.port},
                "detect": {"min_confidence": min_confidence, "join_confidence": join_confidence},
                "events": {"story_sources": False},
                "feeds": [{"name": o, "url": newsroom.feed_url(o)} for o in ("a-wire", "b-desk")],
            }
        )
        pipeline.run_pass(settings, now=START + dt.timedelta(hours=3))
        reprocess(settings)  # re-detecting from the stored pages keeps the weak source
        emails = len(sink.messages)
    with duckdb.connect(str(tmp / "bw.duckdb"), read_only=True) as con:
        rows = con.execute(
            "SELECT country, app, action, source_count, "
            "(SELECT count(*) FROM event_sources s WHERE s.event_id = b.event_id) "
            "FROM ban_events b UNION ALL SELECT country, app, action, source_count, 0 "
            "FROM ban_event_candidates"
        ).fetchall()
    return rows, emails


def test_a_weak_reading_adds_its_article_as_a_source(tmp_path, floors) -> None:
    rows, emails = run(tmp_path, *floors)
    assert rows == [("EC", "Signal", "ban", 2, 2)]
    assert emails == 1


def test_with_the_weak_floor_at_min_confidence_it_is_off(tmp_path, floors) -> None:
    rows, emails = run(tmp_path, floors[0], floors[0])
    assert rows == [("EC", "Signal", "ban", 1, 1)]
    assert emails == 1
