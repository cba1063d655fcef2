"""The alert email as its reader sees it, received over real SMTP (aiosmtpd on 127.0.0.1).

One line says what changed and since when (and what it changes), the quoted sentence states
the news rather than repeating the headline, outlets appear by name and countries by name, and
the message follows list conventions: recipients only in the envelope, List-Id,
List-Unsubscribe, Auto-Submitted and a Message-ID on the sender's domain.
"""

from __future__ import annotations

import datetime as dt
import functools

from banwatch.alerts.send import SmtpMailer, send_alerts
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store

from banwatch.config import AlertSettings
from banwatch.records import Article, Detection
from tests.support.factories import make_detection

NOW = dt.datetime(2026, 12, 3, 8, 0, tzinfo=dt.UTC)
RECIPIENTS = ["analyst.one@example.net", "analyst.two@example.com"]
SENDER = "Banwatch Alerts <alerts@watch.example.org>"


def settings(port: int) -> AlertSettings:
    return AlertSettings(
        smtp_host="127.0.0.1", smtp_port=port, timeout=5, sender=SENDER, recipients=RECIPIENTS
    )


def page(
    n: int, title: str, *, site_name: str | None, feed: str, text: str, when: dt.datetime = NOW
) -> Article:
    return Article(
        article_id=f"p{n}",
        url=f"https://www.{feed.split('-')[0]}news.example/story/{n}",
        feed_name=feed,
        title=title,
        text=text,
        published_at=when,
        site_name=site_name,
        fetched_at=when,
    )


uk = functools.partial(make_detection, jurisdiction="United Kingdom", country="GB")


def load(con, pairs: list[tuple[Article, Detection]], seen: dt.datetime = NOW) -> None:
    """Load and resolve as a pass does (outlet: site name, else feed name, as the pipeline)."""
    store.load_articles(con, [a for a, _ in pairs], "run")
    store.load_detections(con, [d for _, d in pairs])
    detections = [d for _, d in pairs]
    resolution = resolve_events(
        detections,
        store.situation_history(con, {d.situation for d in detections}),
        seen_at={a.article_id: seen for a, _ in pairs},
        recency_days=14,
        urls={a.article_id: a.url for a, _ in pairs},
        outlets={a.article_id: a.site_name or a.feed_name for a, _ in pairs},
    )
    store.apply_resolution(con, resolution)


HEADLINE = "Britain bars TikTok from state phones"
BETTER = "Civil servants must delete TikTok from their work phones by Friday, the Cabinet said."


def ban_of_today(con) -> None:
    """A UK ban whose stored evidence is just the headline; the text has a better sentence."""
    load(
        con,
        [
            (
                page(
                    1,
                    HEADLINE,
                    site_name="The Morning Ledger",
                    feed="ledger-uk-politics",
                    text=f"{HEADLINE}. {BETTER} Critics called it overdue.",
                ),
                uk("p1", evidence=HEADLINE, announced_on=dt.date(2026, 12, 2), confidence=0.95),
            ),
            (
                page(2, "Ministers act on app", site_name=None, feed="wire-feed-7", text=""),
                uk("p2", evidence="Ministers act on app", announced_on=dt.date(2026, 12, 2)),
            ),
        ],
    )


def test_the_email_says_in_one_line_what_changed_and_quotes_the_text(con, sink):
    ban_of_today(con)
    assert send_alerts(con, SmtpMailer(settings(sink.port)), settings(sink.port))["sent"] == 1
    (msg,) = sink.messages
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    summary = "United Kingdom banned TikTok on government devices (announced 2 Dec 2026)"
    assert text.splitlines()[0] == summary
    assert f"<h2>{summary}</h2>" in html
    for part in (text, html):
        assert BETTER in part  # the text's sentence, not the headline again
        assert part.count(HEADLINE) == 1  # the title in the source list, not quoted again
        assert "United Kingdom (GB)" in part
        assert "The Morning Ledger" in part and "ledger-uk-politics" not in part
        assert "wirenews.example" in part and "wire-feed-7" not in part  # host, not slug
        for jargon in ("Acting body", "Subdivision", "Event id", "ban_events", "warehouse"):
            assert jargon not in part
        assert "To stop receiving these alerts, write to" in part
    assert "\n-\n" not in text and ": -\n" not in text


def test_headers_follow_list_conventions_and_recipients_do_not_see_each_other(con, sink):
    ban_of_today(con)
    send_alerts(con, SmtpMailer(settings(sink.port)), settings(sink.port))
    (msg,) = sink.messages
    (event_id,) = con.execute("SELECT event_id FROM events").fetchone()
    assert sink.recipients == [RECIPIENTS]  # the envelope reaches both
    raw = msg.as_string()
    for address in RECIPIENTS:
        assert address not in raw  # ... and no header or body names either of them
    assert msg["To"] == SENDER and msg["Cc"] is None and msg["Bcc"] is None
    assert msg["List-Id"] == "banwatch alerts <alerts.watch.example.org>"
    assert msg["List-Unsubscribe"] == "<mailto:alerts@watch.example.org?subject=unsubscribe>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"] == f"<{event_id}@watch.example.org>"
    assert msg.get_content_type() == "multipart/alternative"
    stored = con.execute("SELECT message_id FROM alerts WHERE event_id = ?", [event_id])
    assert stored.fetchone() == (msg["Message-ID"],)


def test_a_lifting_names_the_ban_it_lifts(con, sink):
    march = dt.datetime(2025, 3, 14, 9, 0, tzinfo=dt.UTC)
    load(
        con,
        [
            (
                page(1, "UK bans TikTok", site_name="Ledger", feed="l", text="", when=march),
                uk("p1", announced_on=march.date()),
            )
        ],
        seen=march,
    )
    load(
        con,
        [
            (
                page(2, "UK ends TikTok ban", site_name="Ledger", feed="l", text=""),
                uk(
                    "p2",
                    action="lifted",
                    announced_on=dt.date(2026, 12, 2),
                    evidence="Officials may again use TikTok on their work phones from Monday.",
                ),
            )
        ],
    )
    config = settings(sink.port)
    send_alerts(con, SmtpMailer(config), config)
    lifted = next(m for m in sink.messages if "lifts" in m["Subject"])
    assert lifted.get_body(("plain",)).get_content().splitlines()[0] == (
        "United Kingdom lifted its ban on TikTok on government devices "
        "(announced 2 Dec 2026), lifting the ban of March 2025"
    )


def test_only_the_headline_stored_is_quoted_as_is(con, sink):
    load(
        con,
        [
            (
                page(1, HEADLINE, site_name="Ledger", feed="l", text=HEADLINE),
                uk("p1", evidence=HEADLINE, announced_on=NOW.date()),
            )
        ],
    )
    send_alerts(con, SmtpMailer(settings(sink.port)), settings(sink.port))
    (msg,) = sink.messages
    assert f'"{HEADLINE}"' in msg.get_body(("plain",)).get_content()
