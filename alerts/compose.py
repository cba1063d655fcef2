"""Build one alert email for one event: pure, from jinja2 templates in `alerts/templates/`.

Article titles, evidence and outlet names are untrusted text from the web, so the HTML part is
rendered with autoescaping on, and only http(s) URLs become links. The Message-ID is derived
from the event id, so a resent alert (see `alerts.send`) is recognised as the same message.
"""

from __future__ import annotations

import email.utils
import functools
import logging
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import jinja2

from banwatch.records import Event

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[banwatch]"

_SCOPES = {
    "government_devices": "on government devices",
    "nationwide": "nationwide",
    "other": "",
}


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alerts", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["is_web_url"] = is_web_url
    return env


def is_web_url(url: str | None) -> bool:
    """Only http(s) URLs are rendered as links (no javascript: or data: hrefs)."""
    return bool(url) and urlsplit(url).scheme in ("http", "https")  # type: ignore[arg-type]


def message_id_for(event_id: str) -> str:
    """Deterministic Message-ID: mail clients drop a resent copy of the same alert."""
    return f"<{event_id}@banwatch>"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def headline(event: Event) -> str:
    """'United Kingdom bans TikTok on government devices', 'Montana lifts its TikTok ban', ..."""
    actor = event.jurisdiction
    if event.body and event.body.lower() not in actor.lower():
        actor = f"{actor} ({event.body})"
    where = _SCOPES.get(event.scope, "")
    if event.scope == "other":
        verb = {
            "ban": f"restricts {event.app}",
            "proposed": f"proposes restricting {event.app}",
            "lifted": f"lifts restrictions on {event.app}",
        }.get(event.action, f"{event.action} {event.app}")
    else:
        verb = {
            "ban": f"bans {event.app} {where}",
            "proposed": f"proposes banning {event.app} {where}",
            "lifted": f"lifts its {event.app} ban {where}",
        }.get(event.action, f"{event.action} {event.app} {where}")
    return _one_line(f"{actor} {verb}")


def _fields(event: Event) -> list[tuple[str, str]]:
    return [
        ("Jurisdiction", event.jurisdiction),
        ("Acting body", event.body or "the government"),
        ("Country", event.country),
        ("Subdivision", event.subdivision or "-"),
        ("Level", event.level),
        ("App", event.app),
        ("Scope", event.scope.replace("_", " ")),
        ("Action", event.action),
        ("Announced on", event.announced_on.isoformat() if event.announced_on else "unknown"),
        ("First seen", event.first_seen_at.strftime("%Y-%m-%d %H:%M %Z").strip()),
        ("Confidence", f"{event.confidence:.2f}"),
        ("Sources", str(event.source_count)),
        ("Event id", event.event_id),
    ]


def compose_alert(
    event: Event,
    sources: Sequence[Mapping[str, Any]],
    *,
    sender: str,
    recipients: Sequence[str],
) -> EmailMessage:
    """The alert for `event`: multipart/alternative, plain text and HTML.

    `sources` are dicts with outlet, url, title, announced_on, evidence, confidence (as
    `warehouse.outbox.alert_payload` returns them), most relevant first.
    """
    env = _environment()
    context = {
        "event": event,
        "headline": headline(event),
        "fields": _fields(event),
        "sources": [
            {k: (_one_line(v) if isinstance(v, str) else v) for k, v in s.items()} for s in sources
        ],
    }
    msg = EmailMessage()
    msg["Subject"] = _one_line(f"{SUBJECT_PREFIX} {context['headline']}")
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Message-ID"] = message_id_for(event.event_id)
    msg["Date"] = email.utils.format_datetime(event.first_seen_at)
    msg["X-Banwatch-Event"] = event.event_id
    msg.set_content(env.get_template("alert.txt").render(context))
    msg.add_alternative(env.get_template("alert.html").render(context), subtype="html")
    return msg
