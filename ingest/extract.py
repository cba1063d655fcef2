"""Extract main text and metadata from fetched pages with trafilatura, into `Article` records.

When a page cannot be fetched, or trafilatura finds too little text (a paywall stub, a video
page), the article falls back to the feed entry's title and summary (`extraction =
"feed_summary"`), so detection still sees the story: a failed fetch keeps its own outcome and
reason, a failed extraction is SOFT "extraction_failed". The raw page is kept gzip-compressed
for re-processing. `fetch_and_extract` overlaps the two: pages download in worker threads while
the calling thread extracts the ones that have arrived.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import trafilatura

from banwatch.config import FetchSettings
from banwatch.records import Article, Outcome, ParsedEntry
from ingest.fetch import FetchedPage, iter_pages
from ingest.http import describe
from ingest.urls import article_id

logger = logging.getLogger(__name__)

MIN_TEXT_CHARS = 200  # less than this is a stub (paywall teaser, video page): use the summary
PROGRESS_EVERY = 50
_HTML_LANG = re.compile(r"""<html[^>]*?\blang\s*=\s*["']?([A-Za-z]{2,3})""", re.IGNORECASE)


def extract_page(html: str, url: str | None = None) -> dict[str, Any] | None:
    """Main text and metadata of one page: title, text, date, language, sitename (or None).

    `fast=True` skips trafilatura's fallback extractors (about 30% faster, same text on
    article pages); comments are excluded because they are not the article's statements.
    """
    try:
        doc = trafilatura.bare_extraction(
            html,
            url=url,
            fast=True,
            with_metadata=True,
            include_comments=False,
            include_tables=True,
        )
    except Exception as exc:  # noqa: BLE001 - one odd page must not end the pass
        logger.warning("trafilatura failed on %s: %s", url, describe(exc))
        return None
    if doc is None:
        return None
    title = (doc.title or "").strip()
    text = _drop_repeated_title(doc.text or "", title)
    language = doc.language or _html_lang(html)
    return {
        "title": title,
        "text": text,
        "date": doc.date,
        "language": language.lower() if language else None,
        "sitename": _site_name(doc.sitename, url),
    }


def _site_name(found: str | None, url: str | None) -> str | None:
    """The outlet's own name; None when trafilatura only echoes the host (the feed name is
    a better outlet label then: on loopback every outlet shares one host)."""
    name = (found or "").strip()
    if not name:
        return None
    host = urlsplit(url).netloc.lower() if url else ""
    if name.lower() in (host, host.removeprefix("www."), host.split(":")[0]):
        return None
    return name


def _drop_repeated_title(text: str, title: str) -> str:
    """trafilatura keeps the page's <h1> as the first line; the title is stored on its own."""
    first, _, rest = text.strip().partition("\n")
    if title and _norm(first) == _norm(title):
        return rest.strip()
    return text.strip()


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _html_lang(html: str) -> str | None:
    match = _HTML_LANG.search(html[:4096])
    return match.group(1) if match else None


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _gzip(raw: bytes | None) -> bytes | None:
    # mtime=0: the same page always compresses to the same bytes (idempotent loads).
    return gzip.compress(raw, compresslevel=6, mtime=0) if raw is not None else None


def _fallback(entry: ParsedEntry) -> str:
    return entry.summary or entry.title


def extract_article(page: FetchedPage) -> Article:
    """One `Article` from one fetched page, falling back to the feed summary when needed."""
    entry = page.entry
    article = Article(
        article_id=article_id(entry.url),
        url=entry.url,
        feed_name=entry.feed_name,
        title=entry.title,
        text=_fallback(entry),
        published_at=entry.published_at,
        extraction="feed_summary",
        outcome=page.outcome,
        reason=page.reason,
        error=page.error,
        raw_html_gz=_gzip(page.raw),
        fetched_at=page.fetched_at,
    )
    if page.html is None:
        return article  # fetch failed: summary fallback, outcome of the fetch
    found = extract_page(page.html, page.final_url or entry.url)
    if found is not None:
        article.title = entry.title or found["title"]
        article.language = found["language"]
        article.site_name = found["sitename"]
        article.published_at = entry.published_at or _date(found["date"])
    if found is None or len(found["text"]) < MIN_TEXT_CHARS:
        article.outcome, article.reason = Outcome.SOFT, "extraction_failed"
        article.error = (
            "trafilatura found no main text"
            if found is None
            else f"main text too short ({len(found['text'])} chars); feed summary used"
        )
        return article
    article.text = found["text"]
    article.extraction = "trafilatura"
    return article


def extract_articles(pages: Iterable[FetchedPage]) -> list[Article]:
    """Articles for fetched pages, in order; logs a progress line every 50 articles."""
    pages = list(pages)
    articles = []
    for done, page in enumerate(pages, 1):
        articles.append(extract_article(page))
        if done % PROGRESS_EVERY == 0:
            logger.info("extracted %d/%d articles", done, len(pages))
    return articles


def count_outcomes(articles: Sequence[Article]) -> dict[str, Any]:
    """Counts for logs and the runs table: total, by outcome, by reason."""
    return {
        "articles": len(articles),
        "by_outcome": dict(Counter(str(a.outcome) for a in articles)),
        "by_reason": dict(Counter(a.reason for a in articles)),
    }


def fetch_and_extract(
    entries: Sequence[ParsedEntry], client: httpx.Client, settings: FetchSettings
) -> tuple[list[Article], dict[str, Any]]:
    """Fetch and extract `entries`: articles in entry order, plus counts by outcome/reason.

    Extraction (CPU) runs in this thread while the remaining pages download in workers.
    """
    articles: list[Article | None] = [None] * len(entries)
    for done, (index, page) in enumerate(iter_pages(entries, client, settings), 1):
        articles[index] = extract_article(page)
        if done % PROGRESS_EVERY == 0:
            logger.info("fetched and extracted %d/%d articles", done, len(entries))
    result = [a for a in articles if a is not None]
    counts = count_outcomes(result)
    logger.info("fetch+extract: %s", counts)
    return result, counts
