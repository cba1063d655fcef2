"""Poll feeds (conditional GET) and normalise their entries into `ParsedEntry` records.

feedparser never raises on a broken feed: it sets `bozo`. A bozo feed that still yields entries
is usable (outcome SOFT, reason "bozo"); one that yields none is HARD ("not_a_feed" when the
document is not a feed at all, e.g. an HTML page, "malformed" when it is broken XML). A failing
feed never raises out of `fetch_feeds`: it comes back as a `FeedResult` with outcome and reason.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import dateparser
import feedparser
import httpx
import lxml.etree
import lxml.html
from banwatch.ingest.http import describe, exception_to_outcome, get
from banwatch.ingest.urls import canonical_url

from banwatch.config import FetchSettings
from banwatch.records import FeedResult, FeedSpec, FeedState, Outcome, ParsedEntry

logger = logging.getLogger(__name__)

# bozo exceptions that say nothing about the feed's content (a charset label fix-up, a
# text/plain content type): a feed with entries and only these is OK, not SOFT.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)
_DATEPARSER_SETTINGS = {"TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}


def strip_html(text: str | None) -> str:
    """Plain text of an HTML fragment (feed summaries often carry markup), whitespace collapsed."""
    if not text:
        return ""
    if "<" in text or "&" in text:
        try:
            text = lxml.html.fragment_fromstring(text, create_parent="div").text_content()
        except (lxml.etree.ParserError, ValueError):
            pass  # not parseable as HTML: keep the raw text rather than lose it
    return " ".join(text.split())


def _published(entry: Mapping) -> dt.datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(key)
        if parsed:
            # feedparser normalises to UTC struct_time; timegm keeps it UTC.
            return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)
    for key in ("published", "updated", "created"):
        raw = entry.get(key)
        if raw:  # a date format feedparser does not know: let dateparser try
            when = dateparser.parse(raw, settings=_DATEPARSER_SETTINGS)
            if when is not None:
                return when.astimezone(dt.UTC)
    return None


def _link(entry: Mapping, base: str) -> str | None:
    link = entry.get("link")
    if not link:
        for candidate in entry.get("links", []):
            if candidate.get("href") and candidate.get("rel", "alternate") == "alternate":
                link = candidate["href"]
                break
    if not link and entry.get("guidislink") and entry.get("id"):
        link = entry["id"]
    if not link:
        return None
    link = urljoin(base, link.strip())
    return link if link.startswith(("http://", "https://")) else None


def parse_entries(
    parsed: feedparser.FeedParserDict, feed_name: str, base: str
) -> list[ParsedEntry]:
    """Normalise feedparser entries; entries without a usable link are skipped."""
    entries = []
    for entry in parsed.entries:
        link = _link(entry, base)
        if link is None:
            logger.debug("%s: entry without link skipped (%s)", feed_name, entry.get("title"))
            continue
        entries.append(
            ParsedEntry(
                feed_name=feed_name,
                url=canonical_url(link),
                link=link,
                title=strip_html(entry.get("title")),
                summary=strip_html(entry.get("summary") or entry.get("description")),
                published_at=_published(entry),
                guid=entry.get("id") or None,
            )
        )
    return entries


def parse_feed(
    content: bytes, spec: FeedSpec, *, base: str, headers: Mapping[str, str] | None = None
) -> tuple[Outcome, str, list[ParsedEntry], str | None]:
    """Parse a feed document: (outcome, reason, entries, error detail)."""
    parsed = feedparser.parse(content, response_headers=dict(headers or {}))
    entries = parse_entries(parsed, spec.name, base)
    error = describe(parsed.bozo_exception) if parsed.get("bozo") else None
    if not entries and not parsed.get("version"):
        # Not recognisable as RSS/Atom at all (an HTML page, JSON, an empty body).
        return Outcome.HARD, "not_a_feed", [], error or "no RSS or Atom document found"
    if parsed.get("bozo"):
        if not entries:
            return Outcome.HARD, "malformed", [], error
        if not isinstance(parsed.bozo_exception, _BENIGN_BOZO):
            return Outcome.SOFT, "bozo", entries, error
    return Outcome.OK, "ok", entries, None


def fetch_feed(
    spec: FeedSpec, state: FeedState | None, client: httpx.Client, settings: FetchSettings
) -> FeedResult:
    """Poll one feed; never raises for network or content problems."""
    state = state or FeedState(name=spec.name)
    result = FeedResult(
        feed_name=spec.name,
        url=spec.url,
        outcome=Outcome.OK,
        reason="ok",
        etag=state.etag,
        last_modified=state.last_modified,
        polled_at=dt.datetime.now(dt.UTC),
    )
    headers = {
        "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
    }
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified:
        headers["If-Modified-Since"] = state.last_modified
    try:
        response = get(client, spec.url, settings=settings, headers=headers)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome on the feed
        result.outcome, result.reason, result.status_code = exception_to_outcome(exc)
        result.error = describe(exc)
        logger.info("feed %s: %s (%s)", spec.name, result.reason, result.error)
        return result
    result.status_code = response.status_code
    if response.status_code == 304:
        result.outcome, result.reason = Outcome.NOT_MODIFIED, "not_modified"
        result.etag = response.headers.get("etag", state.etag)
        result.last_modified = response.headers.get("last-modified", state.last_modified)
        return result
    result.etag = response.headers.get("etag")
    result.last_modified = response.headers.get("last-modified")
    try:
        outcome, reason, entries, error = parse_feed(
            response.content, spec, base=str(response.url), headers=response.headers
        )
    except Exception as exc:  # noqa: BLE001 - a parser crash must not end the pass
        logger.exception("feed %s: parser failed", spec.name)
        outcome, reason, entries, error = Outcome.HARD, "malformed", [], describe(exc)
    result.outcome, result.reason, result.entries, result.error = outcome, reason, entries, error
    logger.debug("feed %s: %s, %d entries", spec.name, reason, len(entries))
    return result


def fetch_feeds(
    feeds: Sequence[FeedSpec],
    states: Mapping[str, FeedState],
    client: httpx.Client,
    settings: FetchSettings,
) -> list[FeedResult]:
    """Poll `feeds` concurrently (up to `fetch.concurrency`); one result per feed, in order."""
    if not feeds:
        return []
    workers = max(1, min(settings.concurrency, len(feeds)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feeds") as pool:
        results = list(
            pool.map(lambda spec: fetch_feed(spec, states.get(spec.name), client, settings), feeds)
        )
    counts: dict[str, int] = {}
    for r in results:
        counts[r.reason] = counts.get(r.reason, 0) + 1
    logger.info(
        "polled %d feeds: %s; %d entries",
        len(results),
        counts,
        sum(len(r.entries) for r in results),
    )
    return results


def new_entries(
    results: Iterable[FeedResult], known_urls: set[str] | frozenset[str]
) -> list[ParsedEntry]:
    """Entries not seen before, one per canonical URL across all feeds (first feed wins)."""
    seen = set(known_urls)
    fresh: list[ParsedEntry] = []
    for result in results:
        for entry in result.entries:
            if entry.url in seen:
                continue
            seen.add(entry.url)
            fresh.append(entry)
    return fresh
