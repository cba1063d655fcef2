"""The daily digest: one email listing the events banwatch first saw on one day.

News events (already alerted one by one) come first; candidate events (confidence below
`alerts.min_confidence`, never emailed one by one) follow in their own section, so analysts
review them in one place instead of receiving a stream of false alarms.

Pure like `alerts.compose`: built from jinja2 templates (HTML autoescaped), sent by the caller's
mailer. Its Message-ID is derived from the day, so a retried maintenance run is recognised as
the same digest by mail clients.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any

from banwatch.alerts.compose import SUBJECT_PREFIX, _environment


def compose_digest(
    events: Sequence[Mapping[str, Any]],
    day: dt.date,
    *,
    sender: str,
    recipients: Sequence[str],
    candidates: Sequence[Mapping[str, Any]] = (),
    sent_at: dt.datetime | None = None,
) -> EmailMessage:
    """Digest of `events` (rows of `ban_events` as dicts) and `candidates` (rows of
    `ban_event_candidates`) first seen on `day`, dated `sent_at` (default: now), when it is
    really sent, so mail clients sort it among the day's alerts rather than at midnight."""
    env = _environment()
    context = {
        "events": list(events),
        "candidates": list(candidates),
        "day": day.isoformat(),
        "count": len(events),
    }
    msg = EmailMessage()
    plural = "" if len(events) == 1 else "s"
    subject = f"{SUBJECT_PREFIX} digest {day.isoformat()}: {len(events)} new event{plural}"
    if candidates:
        subject += f", {len(candidates)} to review"
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = f"<digest-{day.isoformat()}@banwatch>"
    msg["Date"] = email.utils.format_datetime(sent_at or dt.datetime.now(dt.UTC))
    msg.set_content(env.get_template("digest.txt").render(context))
    msg.add_alternative(env.get_template("digest.html").render(context), subtype="html")
    return msg


def attach_report(message: EmailMessage, html: str, day: dt.date) -> EmailMessage:
    """Attach the HTML report (`banwatch report`) as banwatch-report-DAY.html: the message
    becomes multipart/mixed, with the text and HTML digest still its first part."""
    message.add_attachment(
        html.encode("utf-8"),
        maintype="text",
        subtype="html",
        filename=f"banwatch-report-{day.isoformat()}.html",
    )
    return message
