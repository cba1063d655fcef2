"""Bad input in a real pass: each failure is recorded on its feed or article, the rest goes on.

One pass polls a healthy outlet beside feeds that answer 500, serve broken XML, serve HTML,
never answer, or are not there at all, and a feed whose items link to a PDF, a 20 MB page,
a 404 and a Latin-1 page. The healthy outlet's ban must still become an event and an email.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pytest

from banwatch import pipeline
from banwatch.config import settings_from_dict
from tests.support.factories import NOW
from tests.support.mailsink import MailSink
from tests.support.newsroom import NewsItem, Newsroom
from tests.support.pages import article_page

BAN_PARAGRAPHS = (
    "Norway has banned the messaging app Telegram from all government phones with immediate "
    "effect, the digital affairs ministry said on Monday.",
    "Civil servants and ministers must delete the app from their work devices by Friday, "
    "officials said, citing the risk that sensitive data could be accessed.",
    "A Telegram spokesperson called the move regrettable and asked for a meeting with the "
    "ministry.",
)
LATIN1_PAGE = (
    "<html><head><meta charset='iso-8859-1'><title>Caf\xe9 owners protest</title></head><body>"
    "<article><h1>Caf\xe9 owners protest new opening hours</h1>"
    "<p>Owners of the caf\xe9s on the main square said the new rules would cost them dearly "
    "during the busiest weeks of the summer season.</p>"
    "<p>The council promised to review the d\xe9cision next spring, after a long meeting in "
    "which traders and residents took turns at the microphone.</p>"
    "<p>Several owners said they would close early in protest on Saturday, and a petition has "
    "already gathered more than two thousand signatures from regular customers.</p>"
    "</article></body></html>"
).encode("latin-1")


def custom_feed(newsroom: Newsroom) -> str:
    """A feed whose items link to fault pages (served verbatim)."""
    latin1 = newsroom.put("/pages/latin1.html", LATIN1_PAGE, "text/html; charset=iso-8859-1")
    links = {
        "A report as a PDF": newsroom.fault_url("binary", "/report.pdf"),
        "A page that never ends": newsroom.fault_url("huge", "/story.html"),
        "A page that is gone": newsroom.fault_url("404", "/story.html"),
        "Cafe owners protest": latin1,
    }
    items = "".join(
        f"<item><title>{title}</title><link>{url}</link><description>Summary of {title}."
        f"</description><pubDate>Mon, 16 Mar 2026 09:00:00 GMT</pubDate></item>"
        for title, url in links.items()
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Odd</title><link>'
        f"{newsroom.base_url}</link><description>odd pages</description>{items}</channel></rss>"
    )
    return newsroom.put("/odd/feed.xml", body, "application/rss+xml")


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory):
    tmp: Path = tmp_path_factory.mktemp("bad")
    published = NOW - dt.timedelta(hours=2)
    good = NewsItem(
        outlet="good-news",
        slug="norway-bans-telegram",
        title="Norway bans Telegram on government phones",
        summary=BAN_PARAGRAPHS[0],
        published=published,
        html=article_page(
            "Norway bans Telegram on government phones",
            BAN_PARAGRAPHS,
            outlet="good-news",
            published=published,
        ),
    )
    with Newsroom([good]) as newsroom, MailSink() as sink:
        feeds = [
            ("good-news", newsroom.feed_url("good-news")),
            ("server-error", newsroom.fault_url("500", "/feed.xml")),
            ("broken-xml", newsroom.fault_url("garbage", "/feed.xml")),
            ("html-not-feed", newsroom.fault_url("notfeed", "/feed.xml")),
            ("never-answers", newsroom.fault_url("hang", "/feed.xml")),
            ("nobody-home", "http://127.0.0.1:9/feed.xml"),
            ("odd-pages", custom_feed(newsroom)),
        ]
        settings = settings_from_dict(
            {
                "warehouse": {"path": str(tmp / "bw.duckdb")},
                "staging": {"dir": str(tmp / "staging")},
                "fetch": {
                    "allowed_hosts": ["127.0.0.1"],
                    "timeout": 1.5,
                    "retries": 0,
                    "max_bytes": 2_000_000,
                },
                "alerts": {"smtp_host": "127.0.0.1", "smtp_port": sink.port},
                "feeds": [{"name": n, "url": u} for n, u in feeds],
            }
        )
        summary = pipeline.run_pass(settings, now=NOW)
        with duckdb.connect(str(tmp / "bw.duckdb"), read_only=True) as con:
            feeds_rows = {
                r[0]: r[1:]
                for r in con.execute(
                    "SELECT name, last_outcome, last_reason, last_error, failure_count FROM feeds"
                ).fetchall()
            }
            articles = {
                r[0]: r[1:]
                for r in con.execute(
                    "SELECT title, outcome, reason, extraction, text FROM articles"
                ).fetchall()
            }
            events = con.execute("SELECT country, app, scope, action FROM ban_events").fetchall()
        yield dataclasses.make_dataclass(
            "Outcome", ["summary", "feeds", "articles", "events", "mail"]
        )(summary, feeds_rows, articles, events, list(sink.messages))


def test_the_pass_completes_and_counts_the_failures(outcome) -> None:
    assert outcome.summary.feeds_polled == 7
    assert outcome.summary.feeds_failed == 5
    assert outcome.summary.new_articles == 5


def test_the_healthy_outlet_still_gives_its_event_and_email(outcome) -> None:
    assert outcome.events == [("NO", "Telegram", "government_devices", "ban")]
    assert len(outcome.mail) == 1 and "Telegram" in outcome.mail[0]["Subject"]


@pytest.mark.parametrize(
    ("feed", "kind", "reasons"),
    [
        ("good-news", "ok", {"ok"}),
        ("server-error", "temporary", {"http_500"}),
        # garbage bytes: unparseable XML, or nothing feedparser recognises as a feed
        ("broken-xml", "hard", {"malformed", "not_a_feed"}),
        ("html-not-feed", "hard", {"not_a_feed"}),
        ("never-answers", "temporary", {"timeout"}),
        ("nobody-home", "temporary", {"connect_error"}),
        ("odd-pages", "ok", {"ok"}),
    ],
)
def test_each_feed_failure_is_recorded_with_a_reason(outcome, feed, kind, reasons) -> None:
    last_outcome, last_reason, last_error, failures = outcome.feeds[feed]
    assert last_outcome == kind
    assert last_reason in reasons
    if kind != "ok":
        assert last_error and "\n" not in last_error
        assert failures == 1


def test_bad_pages_fall_back_to_the_feed_summary(outcome) -> None:
    pdf = outcome.articles["A report as a PDF"]
    assert pdf[1] == "not_html" and pdf[2] == "feed_summary"
    assert pdf[3] == "Summary of A report as a PDF."
    huge = outcome.articles["A page that never ends"]
    assert huge[1] == "too_large" and huge[2] == "feed_summary"
    gone = outcome.articles["A page that is gone"]
    assert gone[0] == "hard" and gone[1] == "http_404"


def test_a_latin1_page_is_decoded(outcome) -> None:
    title = next(t for t in outcome.articles if t.startswith("Caf"))
    text = outcome.articles[title][3]
    assert "cafés" in text and "décision" in text
