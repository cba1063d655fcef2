"""Alert emails: composed from the warehouse, sent over real SMTP (aiosmtpd on 127.0.0.1).

One email per new event, never twice, also across a killed pass or an SMTP outage.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import functools

import pytest
from banwatch.alerts.compose import compose_alert
from banwatch.alerts.send import SmtpMailer, send_alerts
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store

from banwatch.config import AlertSettings
from banwatch.records import Article, Detection, Event
from tests.support.factories import make_detection
from tests.support.mailsink import MailSink, free_port

NOW = dt.datetime(2025, 3, 10, 9, 30, tzinfo=dt.UTC)
TODAY = NOW.date()


def settings_for(port: int, **kw) -> AlertSettings:
    return AlertSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        timeout=5,
        sender="banwatch@example.org",
        recipients=["analysts@example.org", "desk@example.org"],
        **kw,
    )


def article(n: int, title: str, outlet: str) -> Article:
    return Article(
        article_id=f"art{n}",
        url=f"https://{outlet.lower().replace(' ', '')}.example/news/{n}",
        feed_name=outlet,
        title=title,
        text="Body text of the article.",
        published_at=NOW,
        site_name=outlet,
        fetched_at=NOW,
    )


# a UK ban announced today; its evidence mentions "official handsets" and the app
detection = functools.partial(
    make_detection, jurisdiction="United Kingdom", country="GB", announced_on=TODAY
)


def load(con, pairs: list[tuple[Article, Detection]]) -> None:
    """Load articles and detections and resolve events, as a pass does."""
    articles = {a.article_id: a for a, _ in pairs}
    detections = [d for _, d in pairs]
    store.load_articles(con, list(articles.values()), "run")
    store.load_detections(con, detections)
    resolution = resolve_events(
        detections,
        store.situation_history(con, {d.situation for d in detections}),
        seen_at={a: NOW for a in articles},
        recency_days=14,
        urls={a.article_id: a.url for a in articles.values()},
        outlets={a.article_id: a.site_name for a in articles.values()},
    )
    store.apply_resolution(con, resolution)


def uk_ban(con) -> None:
    load(
        con,
        [
            (article(1, "UK bars TikTok from ministers' phones", "Daily Paper"), detection("art1")),
            (article(2, "TikTok banned on UK government devices", "Wire"), detection("art2")),
        ],
    )


def statuses(con) -> dict[str, str]:
    return dict(con.execute("SELECT event_id, status FROM alerts").fetchall())


def test_one_multipart_email_per_new_event(con, sink):
    uk_ban(con)
    load(
        con,
        [
            (article(3, "Montana bans WeChat", "Local"), detection("art3", app="WeChat")),
            # An archive page: recorded as a historical event, never emailed.
            (
                article(4, "Looking back", "Archive"),
                detection("art4", app="Telegram", announced_on=dt.date(2020, 1, 1)),
            ),
        ],
    )
    counts = send_alerts(con, SmtpMailer(settings_for(sink.port)), settings_for(sink.port))
    assert counts["sent"] == 2 and counts["pending"] == 0
    assert len(sink.messages) == 2
    subjects = sorted(m["Subject"] for m in sink.messages)
    assert subjects == [
        "[banwatch] United Kingdom bans TikTok on government devices",
        "[banwatch] United Kingdom bans WeChat on government devices",
    ]
    msg = next(m for m in sink.messages if "TikTok" in m["Subject"])
    assert msg.get_content_type() == "multipart/alternative"
    assert sink.recipients[0] == ["analysts@example.org", "desk@example.org"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "United Kingdom" in part and "government devices" in part
        assert "official handsets" in part  # the evidence
        assert "Daily Paper" in part and "Wire" in part  # both sources
        assert "https://wire.example/news/2" in part
    event_id = con.execute("SELECT event_id FROM events WHERE app = 'TikTok'").fetchone()[0]
    assert msg["Message-ID"] == f"<{event_id}@example.org>"
    row = con.execute(
        "SELECT status, attempts, message_id FROM alerts WHERE event_id = ?", [event_id]
    )
    assert row.fetchone() == ("sent", 1, f"<{event_id}@example.org>")


def test_untrusted_titles_are_escaped_in_html(con, sink):
    hostile = article(1, "<script>alert('x')</script> & friends", "Evil <b>Outlet</b>")
    load(con, [(hostile, detection("art1", evidence="They banned it <img src=x onerror=1>."))])
    send_alerts(con, SmtpMailer(settings_for(sink.port)), settings_for(sink.port))
    (msg,) = sink.messages
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "Evil &lt;b&gt;Outlet&lt;/b&gt;" in html
    assert "<script>alert('x')</script>" in msg.get_body(("plain",)).get_content()


def test_never_sent_twice_across_passes(con, sink):
    uk_ban(con)
    settings = settings_for(sink.port)
    assert send_alerts(con, SmtpMailer(settings), settings)["sent"] == 1
    # Next pass: the same story covered by one more outlet, plus a re-run of the first load.
    uk_ban(con)
    load(con, [(article(5, "UK follows others on TikTok", "Third"), detection("art5"))])
    assert send_alerts(con, SmtpMailer(settings), settings)["sent"] == 0
    assert len(sink.messages) == 1
    assert store.list_events(con)[0]["source_count"] == 3


class CrashingMailer(SmtpMailer):
    """Dies like a killed process: before sending, or after the server accepted the email."""

    def __init__(self, settings, *, after_send: bool):
        super().__init__(settings)
        self.after_send = after_send

    def send(self, msg, recipients=None):
        if self.after_send:
            super().send(msg, recipients)
        raise KeyboardInterrupt("killed")


@pytest.mark.parametrize("after_send", [False, True])
def test_a_killed_pass_is_completed_by_the_next(con, sink, after_send):
    uk_ban(con)
    settings = settings_for(sink.port)
    with pytest.raises(KeyboardInterrupt):
        send_alerts(con, CrashingMailer(settings, after_send=after_send), settings)
    assert list(statuses(con).values()) == ["sending"]  # claimed, committed, not marked
    assert send_alerts(con, SmtpMailer(settings), settings)["sent"] == 1
    assert list(statuses(con).values()) == ["sent"]
    # At least once: a crash after the server accepted it resends the same Message-ID.
    assert len(sink.messages) == (2 if after_send else 1)
    assert len({m["Message-ID"] for m in sink.messages}) == 1


def test_smtp_down_keeps_alerts_queued_until_it_is_back(con):
    uk_ban(con)
    port = free_port()
    settings = settings_for(port)
    counts = send_alerts(con, SmtpMailer(settings), settings)
    assert counts["sent"] == 0 and counts["pending"] == 1
    (row,) = con.execute("SELECT status, attempts, last_error FROM alerts").fetchall()
    assert row[:2] == ("pending", 0) and f"127.0.0.1:{port}" in row[2]
    with MailSink(port=port) as sink:
        assert send_alerts(con, SmtpMailer(settings), settings)["sent"] == 1
        assert len(sink.messages) == 1
    assert list(statuses(con).values()) == ["sent"]


def test_disabled_alerts_stay_pending(con, sink):
    uk_ban(con)
    settings = settings_for(sink.port, enabled=False)
    assert send_alerts(con, SmtpMailer(settings), settings)["pending"] == 1
    assert sink.messages == [] and list(statuses(con).values()) == ["pending"]


class RejectingHandler:
    """An SMTP server that refuses (554) any email whose subject mentions WeChat."""

    def __init__(self):
        self.accepted = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if "WeChat" in msg["Subject"]:
            return "554 5.7.1 message refused"
        self.accepted.append(msg)
        return "250 OK"


def test_a_refused_email_does_not_stop_the_others(con):
    from aiosmtpd.controller import Controller

    load(
        con,
        [
            (article(1, "a", "One"), detection("art1", app="WeChat")),
            (article(2, "b", "Two"), detection("art2", app="Telegram")),
        ],
    )
    handler = RejectingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = settings_for(controller.port)
        counts = send_alerts(con, SmtpMailer(settings), settings)
    finally:
        controller.stop()
    # The refused one is retried on later passes (tests/test_smtp_refusals.py), not lost.
    assert counts["sent"] == 1 and counts["refused"] == 1 and counts["undelivered"] == 1
    assert [m["Subject"] for m in handler.accepted] == [
        "[banwatch] United Kingdom bans Telegram on government devices"
    ]
    (refused,) = con.execute(
        "SELECT last_error FROM alerts WHERE status = 'pending' AND refusals = 1"
    ).fetchone()
    assert "554" in refused


def test_subjects_say_what_happened():
    event = Event(
        event_id="e1",
        jurisdiction="Montana",
        country="US",
        subdivision="US-MT",
        level="subnational",
        app="TikTok",
        scope="nationwide",
        action="lifted",
        body="",
        announced_on=TODAY,
        first_seen_at=NOW,
        confidence=0.9,
        evidence="A judge blocked the law.",
        url="javascript:alert(1)",
    )
    msg = compose_alert(event, [], sender="a@example.org")
    assert msg["Subject"] == "[banwatch] Montana lifts its TikTok ban nationwide"
    assert 'href="javascript' not in msg.get_body(("html",)).get_content()
    proposed = dataclasses.replace(event, action="proposed", scope="other", body="Senate")
    assert (
        compose_alert(proposed, [], sender="a@example.org")["Subject"]
        == "[banwatch] Montana (Senate) proposes restricting TikTok"
    )
    assert AlertSettings().max_refusals >= 2


# ---------------------------------------------------------------- alerts.mail_dir: .eml files


def test_mail_dir_writes_one_eml_per_alert_instead_of_smtp(con, tmp_path):
    uk_ban(con)
    load(con, [(article(3, "Montana bans WeChat", "Local"), detection("art3", app="WeChat"))])
    mail_dir = tmp_path / "mail"
    # no SMTP server anywhere: the directory is the delivery
    settings = settings_for(free_port(), mail_dir=str(mail_dir))
    counts = send_alerts(con, SmtpMailer(settings), settings)
    assert (counts["sent"], counts["pending"], counts["undelivered"]) == (2, 0, 0)
    files = sorted(mail_dir.iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temporary files left behind
    parse = functools.partial(email.message_from_bytes, policy=email.policy.default)
    messages = [parse(f.read_bytes()) for f in files]
    assert [m["X-Envelope-To"] for m in messages] == ["analysts@example.org, desk@example.org"] * 2
    assert sorted(m["Subject"] for m in messages) == [
        "[banwatch] United Kingdom bans TikTok on government devices",
        "[banwatch] United Kingdom bans WeChat on government devices",
    ]
    assert set(statuses(con).values()) == {"sent"}
    # sent once: a second pass writes nothing
    assert send_alerts(con, SmtpMailer(settings), settings)["sent"] == 0
    assert len(list(mail_dir.iterdir())) == 2


def test_an_unwritable_mail_dir_keeps_the_alerts_queued(con, tmp_path):
    uk_ban(con)
    (tmp_path / "afile").write_text("not a directory")
    settings = settings_for(free_port(), mail_dir=str(tmp_path / "afile"))
    counts = send_alerts(con, SmtpMailer(settings), settings)
    assert (counts["sent"], counts["pending"], counts["undelivered"]) == (0, 1, 1)
    error = con.execute("SELECT last_error FROM alerts").fetchone()[0]
    assert f"cannot write alert emails to {tmp_path / 'afile'}" in error
    assert "alerts.mail_dir" in error
