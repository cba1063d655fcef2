"""Build one alert email for one event: pure, from jinja2 templates in `alerts/templates/`.

Article titles, evidence and outlet names are untrusted text from the web, so the HTML part is
rendered with autoescaping on, and only http(s) URLs become links. The Message-ID is derived
from the event id and the sender's domain, so a resent alert (see `alerts.send`) is recognised
as the same message.

The email goes to a list: its `To:` is the sender (the list address) and the recipients are
only in the SMTP envelope, so no reader sees who else gets it (see `alerts.send`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import logging
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import jinja2
import pycountry

from banwatch.records import Event

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "[banwatch]"
LIST_NAME = "banwatch alerts"
NO_DOMAIN = "banwatch.invalid"  # a sender without a domain still gets a well-formed Message-ID

_SCOPES = {
    "government_devices": "on government devices",
    "nationwide": "nationwide",
    "other": "",
}
_PAST = {"ban": "banned", "proposed": "proposed banning", "lifted": "lifted its ban on"}
_NOUN = {"ban": "the ban", "proposed": "the proposal", "lifted": "the lifting"}
# What the new state does to the previous one: "lifting the ban of March 2025".
_AFTER = {
    ("lifted", "ban"): "lifting {prev} of {when}",
    ("ban", "proposed"): "following {prev} of {when}",
    ("ban", "lifted"): "reimposing the ban lifted in {when}",
    ("proposed", "lifted"): "after the ban was lifted in {when}",
    ("lifted", "proposed"): "dropping {prev} of {when}",
}
_WORDS = re.compile(r"\w+")
_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'“])")
_BAN_WORDS = re.compile(
    r"\b(bans?|banned|banning|bars?|barred|barring|prohibit\w*|forbid\w*|block\w*|"
    r"restrict\w*|lift\w*|outlaw\w*|delet\w*|remov\w*|uninstall\w*|suspend\w*|"
    r"no longer|not be allowed|may again)\b",
    re.IGNORECASE,
)


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("banwatch.alerts", "templates"),
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


def sender_domain(sender: str) -> str:
    """The domain of the sender's address ('banwatch@example.org' -> 'example.org')."""
    _, addr = email.utils.parseaddr(sender)
    domain = addr.rpartition("@")[2].strip().lower() if "@" in addr else ""
    return domain or NO_DOMAIN


def message_id_for(event_id: str, sender: str) -> str:
    """Deterministic Message-ID: mail clients drop a resent copy of the same alert."""
    return f"<{event_id}@{sender_domain(sender)}>"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _actor(event: Event) -> str:
    if event.body and event.body.lower() not in event.jurisdiction.lower():
        return f"{event.jurisdiction} ({event.body})"
    return event.jurisdiction


def headline(event: Event) -> str:
    """'United Kingdom bans TikTok on government devices', 'Montana lifts its TikTok ban', ..."""
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
    return _one_line(f"{_actor(event)} {verb}")


def _day(date: dt.date) -> str:
    return f"{date.day} {date:%b %Y}"


def summary(event: Event, previous: Event | None = None) -> str:
    """One line: what changed and since when, and what it changes when the previous state is
    known ('United Kingdom banned TikTok on government devices (announced 2 Dec 2026)')."""
    verb = _PAST.get(event.action, event.action)
    where = _SCOPES.get(event.scope, "")
    if event.scope == "other":
        verb = {
            "ban": "restricted",
            "proposed": "proposed restricting",
            "lifted": "lifted restrictions on",
        }.get(event.action, verb)
    since = (
        f"announced {_day(event.announced_on)}"
        if event.announced_on
        else f"first reported {_day(event.first_seen_at.date())}"
    )
    line = f"{_actor(event)} {verb} {event.app} {where} ({since})"
    if previous is not None and previous.action != event.action:
        when = f"{previous.announced_on:%B %Y}" if previous.announced_on else "an earlier date"
        pattern = _AFTER.get((event.action, previous.action), "after {prev} of {when}")
        line += ", " + pattern.format(prev=_NOUN.get(previous.action, previous.action), when=when)
    return _one_line(line)


def place(event: Event) -> str:
    """'United Kingdom (GB)', 'Montana (US-MT), United States (US)': names beside the codes."""
    country = pycountry.countries.get(alpha_2=event.country) if event.country else None
    if event.country == "EU":
        name = "European Union"
    else:
        name = country.name if country else ""
    where = f"{name} ({event.country})" if name else (event.country or event.jurisdiction)
    if event.subdivision:
        sub = pycountry.subdivisions.get(code=event.subdivision)
        sub_name = sub.name if sub else event.jurisdiction
        where = f"{sub_name} ({event.subdivision}), {where}"
    return where


def outlet_name(source: Mapping[str, Any]) -> str:
    """The outlet as its readers know it: the page's site name, else the site's host name
    (the stored outlet falls back to the feed's config slug, which means nothing to a reader)."""
    if source.get("site_name"):
        return _one_line(source["site_name"])
    host = urlsplit(source.get("url") or "").hostname or ""
    return host.removeprefix("www.") or _one_line(source.get("outlet") or "unknown outlet")


def _same_words(a: str | None, b: str | None) -> bool:
    return bool(a and b) and _WORDS.findall(a.lower()) == _WORDS.findall(b.lower())  # type: ignore[union-attr]


def _from_text(event: Event, source: Mapping[str, Any]) -> str | None:
    """The first sentence of the article's text that names the app and a ban verb, and is not
    its headline: the text usually states the news better than the title does."""
    for sentence in _SENTENCES.split(_one_line(source.get("text") or "")):
        if (
            20 <= len(sentence) <= 400
            and event.app.lower() in sentence.lower()
            and _BAN_WORDS.search(sentence)
            and not _same_words(sentence, source.get("title"))
        ):
            return sentence
    return None


def best_evidence(event: Event, sources: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    """(sentence, url) to quote: the most confident source sentence that is not just a headline,
    else a sentence of a source's text, else the stored evidence (even if it is the headline)."""
    titles = [s.get("title") for s in sources]
    for s in sources:  # most confident first
        if s.get("evidence") and not any(_same_words(s["evidence"], t) for t in titles):
            return _one_line(s["evidence"]), s.get("url") or event.url
    for s in sources:
        sentence = _from_text(event, s)
        if sentence:
            return sentence, s.get("url") or event.url
    return _one_line(event.evidence), event.url


def _facts(event: Event) -> list[tuple[str, str]]:
    facts = [("Where", place(event))]
    if event.body and event.body.lower() not in event.jurisdiction.lower():
        facts.append(("Decided by", event.body))
    facts += [
        ("App", event.app),
        ("Applies", _SCOPES.get(event.scope) or "other restriction"),
        ("Announced", _day(event.announced_on) if event.announced_on else "date not reported"),
        ("First seen", event.first_seen_at.strftime("%-d %b %Y %H:%M %Z").strip()),
        ("Confidence", f"{event.confidence:.0%}"),
    ]
    return facts


def _source(s: Mapping[str, Any], quoted: str) -> dict[str, Any]:
    """A source for the list; its sentence only when it adds to its title and the quote."""
    clean = {k: (_one_line(v) if isinstance(v, str) else v) for k, v in s.items() if k != "text"}
    clean["name"] = outlet_name(s)
    if _same_words(clean.get("evidence"), clean.get("title")) or _same_words(
        clean.get("evidence"), quoted
    ):
        clean["evidence"] = None
    return clean


def compose_alert(
    event: Event,
    sources: Sequence[Mapping[str, Any]],
    *,
    sender: str,
    previous: Event | None = None,
) -> EmailMessage:
    """The alert for `event`: multipart/alternative, plain text and HTML, addressed to the list.

    `sources` are dicts with outlet, site_name, url, title, text, announced_on, evidence,
    confidence (as `warehouse.outbox.alert_payload` returns them), most relevant first;
    `previous` is the situation's state before this one, when known.
    """
    evidence, evidence_url = best_evidence(event, sources)
    context = {
        "event": event,
        "summary": summary(event, previous),
        "facts": _facts(event),
        "evidence": evidence,
        "evidence_url": evidence_url,
        "outlet_count": event.source_count,
        "sources": [_source(s, evidence) for s in sources],
        "sender": email.utils.parseaddr(sender)[1] or sender,
    }
    env = _environment()
    domain = sender_domain(sender)
    msg = EmailMessage()
    msg["Subject"] = _one_line(f"{SUBJECT_PREFIX} {headline(event)}")
    msg["From"] = sender
    msg["To"] = sender  # the list address: recipients are in the envelope only
    msg["Message-ID"] = message_id_for(event.event_id, sender)
    msg["Date"] = email.utils.format_datetime(event.first_seen_at)
    msg["List-Id"] = f"{LIST_NAME} <alerts.{domain}>"
    msg["List-Unsubscribe"] = f"<mailto:{email.utils.parseaddr(sender)[1]}?subject=unsubscribe>"
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Banwatch-Event"] = event.event_id
    msg.set_content(env.get_template("alert.txt").render(context))
    msg.add_alternative(env.get_template("alert.html").render(context), subtype="html")
    return msg
