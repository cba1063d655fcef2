"""Extract main text and metadata from fetched pages with trafilatura, into `Article` records.

When a page cannot be fetched, or trafilatura finds too little text (a paywall stub, a video
page), the article falls back to the feed entry's title and summary (`extraction =
"feed_summary"`), so detection still sees the story: a failed fetch keeps its own outcome and
reason, a failed extraction is SOFT "extraction_failed", and a "text" that is mostly the page's
own link texts (a section front, a consent wall's menu) is SOFT "navigation_only". The language
is the page's claim (`<html lang>`) when it is a real ISO 639 code the text does not contradict,
else what py3langid detects in the text. The raw page is kept gzip-compressed for
re-processing. `fetch_and_extract` overlaps the two: pages download in worker threads while
extraction processes (or the calling thread) extract the ones that have arrived.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import logging
import queue
import re
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any
from urllib.parse import urlsplit

import httpx
import lxml.etree
import lxml.html
import pycountry
import trafilatura
from banwatch.ingest.fetch import FetchedPage, decode_page, fetch_page, iter_pages
from banwatch.ingest.http import describe
from banwatch.ingest.urls import article_id

from banwatch.config import FetchSettings
from banwatch.records import Article, Outcome, ParsedEntry

logger = logging.getLogger(__name__)

# A stub or a page of links is a setting (fetch.min_text_chars, fetch.max_link_share); the
# constants below are fitted to py3langid's probabilities and stay with the code.
# Language: the detector overrules the page's claim only when it is sure of another language
# and gives the claim almost no chance; with no usable claim it needs a clear majority.
OVERRULE_MIN_PROB = 0.5
CLAIM_MIN_PROB = 0.02
DETECT_MIN_PROB = 0.5
DETECT_MAX_CHARS = 4000  # the opening of the text is enough and keeps detection cheap
PROGRESS_EVERY = 50
_HTML_LANG = re.compile(r"""<html[^>]*?\blang\s*=\s*["']?([A-Za-z]{2,3})\b""", re.IGNORECASE)
_DEPRECATED_CODES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "nb": "no"}
_BULLET = re.compile(r"^[\s\-*•·|>]+")


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
    return {
        "title": title,
        "text": text,
        "date": doc.date,
        "language": page_language(doc.language or _html_lang(html), f"{title}\n{text}"),
        "claimed_language": doc.language or _html_lang(html),
        "link_share": link_share(html, text),
        "sitename": _site_name(doc.sitename, url),
    }


def link_share(html: str, text: str) -> float:
    """Share of `text` (by characters) in lines that are the text of a link on the page."""
    try:
        tree = lxml.html.document_fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return 0.0
    anchors = {_norm(a.text_content()) for a in tree.iter("a")} - {""}
    lines = [_norm(_BULLET.sub("", line)) for line in text.splitlines()]
    total = sum(len(line) for line in lines)
    linked = sum(len(line) for line in lines if line in anchors)
    return linked / total if total else 0.0


def _iso639(code: str | None) -> str | None:
    """The two-letter (else three-letter) ISO 639 code for a claim like 'en-GB' or 'deu'."""
    if not code:
        return None
    primary = code.strip().replace("_", "-").split("-")[0].lower()
    primary = _DEPRECATED_CODES.get(primary, primary)
    if len(primary) == 2:
        found = pycountry.languages.get(alpha_2=primary)
    elif len(primary) == 3:
        found = pycountry.languages.get(alpha_3=primary)
    else:
        return None
    if found is None:
        return None
    two = getattr(found, "alpha_2", None)  # 'deu' -> 'de'; languages without one keep three
    return _DEPRECATED_CODES.get(two, two) if two else found.alpha_3


@functools.cache
def _identifier() -> typing.Any:
    """py3langid's model with normalised probabilities (loaded once, about 0.5 s)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def page_language(claimed: str | None, text: str) -> str | None:
    """The page's language: its claim if valid and not contradicted by the text, else detected.

    The claim is contradicted when the detector puts another language above
    OVERRULE_MIN_PROB and the claim below CLAIM_MIN_PROB ('lan' on an English page, 'en' on
    an isiZulu one). Without a valid claim the detected language is used when it is clear.
    """
    claim = _iso639(claimed)
    sample = text.strip()[:DETECT_MAX_CHARS]
    if not sample:
        return claim
    ranked = dict(_identifier().rank(sample))
    best = max(ranked, key=ranked.__getitem__)
    detected = _iso639(best) if best != "zxx" else None
    if claim is None:
        return detected if ranked[best] >= DETECT_MIN_PROB else None
    if detected and detected != claim and ranked[best] >= OVERRULE_MIN_PROB:
        if ranked.get(claim, 0.0) < CLAIM_MIN_PROB:
            logger.debug("page claims language %r, text reads as %r", claimed, detected)
            return detected
    return claim


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
    # mtime=0: the same page always compresses to the same bytes (idempotent loads). Level 1:
    # 2.6 core-ms for a 360 KB page against 6.5 at level 6, for 22 % of the size against 19 %.
    return gzip.compress(raw, compresslevel=1, mtime=0) if raw is not None else None


def _fallback(entry: ParsedEntry) -> str:
    return entry.summary or entry.title


_DEFAULTS = FetchSettings()


def extract_article(page: FetchedPage, settings: FetchSettings = _DEFAULTS) -> Article:
    """One `Article` from one fetched page, falling back to the feed summary when needed.

    `settings.min_text_chars` and `settings.max_link_share` decide when the extracted text is
    a stub or navigation rather than the article. A page fetched undecoded is decoded here (in
    the extraction worker).
    """
    page = decode_page(page)
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
    if found is None or len(found["text"]) < settings.min_text_chars:
        article.outcome, article.reason = Outcome.SOFT, "extraction_failed"
        article.error = (
            "trafilatura found no main text"
            if found is None
            else f"main text too short ({len(found['text'])} chars); feed summary used"
        )
        return _summary_language(article, found)
    if found["link_share"] > settings.max_link_share:
        article.outcome, article.reason = Outcome.SOFT, "navigation_only"
        article.error = (
            f"{found['link_share']:.0%} of the extracted text is the page's link texts "
            "(navigation, not an article); feed summary used"
        )
        return _summary_language(article, found)
    article.text = found["text"]
    article.extraction = "trafilatura"
    return article


def _summary_language(article: Article, found: dict[str, Any] | None) -> Article:
    """The language of an article stored with its feed summary: judged on that text."""
    claimed = found["claimed_language"] if found else None
    article.language = page_language(claimed, f"{article.title}\n{article.text}")
    return article


def extract_articles(
    pages: Iterable[FetchedPage], settings: FetchSettings = _DEFAULTS
) -> list[Article]:
    """Articles for fetched pages, in order; logs a progress line every 50 articles."""
    pages = list(pages)
    articles = []
    for done, page in enumerate(pages, 1):
        articles.append(extract_article(page, settings))
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
    entries: Sequence[ParsedEntry],
    client: httpx.Client,
    settings: FetchSettings,
    *,
    workers: int = 1,
    on_article: Callable[[Article], None] | None = None,
) -> tuple[list[Article], dict[str, Any]]:
    """Fetch and extract `entries`: articles in entry order, plus counts by outcome/reason.

    Pages download in worker threads. With `workers` > 1 each downloaded page is handed to a
    pool of extraction processes (`ingest.extract_pool`) by the thread that fetched it, so
    extraction runs on every core and this thread is free: it calls `on_article` for each
    article as it is extracted (the pass embeds them meanwhile). With one worker, extraction
    runs in this thread while the remaining pages download.
    """
    from banwatch.ingest.extract_pool import extract_pool

    articles: list[Article | None] = [None] * len(entries)
    pool = extract_pool(min(workers, len(entries)))
    arrived = _extracted_in(pool, entries, client, settings) if pool else None
    if arrived is None:
        pages = iter_pages(entries, client, settings)
        arrived = ((i, extract_article(p, settings)) for i, p in pages)
    for done, (index, article) in enumerate(arrived, 1):
        articles[index] = article
        if on_article is not None:
            on_article(article)
        if done % PROGRESS_EVERY == 0:
            logger.info("fetched and extracted %d/%d articles", done, len(entries))
    result = [a for a in articles if a is not None]
    counts = count_outcomes(result)
    logger.info("fetch+extract: %s", counts)
    return result, counts


def _extracted_in(
    pool: ProcessPoolExecutor,
    entries: Sequence[ParsedEntry],
    client: httpx.Client,
    settings: FetchSettings,
) -> Iterator[tuple[int, Article]]:
    """(index, article) as the pool extracts them; fetch threads submit the pages themselves.

    A worker that dies (a page that kills the extractor) breaks the pool: the pages it held are
    extracted here instead, and the next pass starts a new pool.
    """
    from banwatch.ingest.extract_pool import discard

    done: queue.SimpleQueue[tuple[int, FetchedPage, Future[Article] | None]] = queue.SimpleQueue()

    def fetch_then_submit(index: int, entry: ParsedEntry) -> None:
        page = fetch_page(entry, client, settings, decode=False)  # decoded in the worker
        try:
            future = pool.submit(extract_article, page, settings)
        except RuntimeError:  # BrokenProcessPool, or shut down: extract in the caller
            done.put((index, page, None))
            return
        future.add_done_callback(lambda f: done.put((index, page, f)))

    threads = max(1, min(settings.concurrency, len(entries)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="pages") as fetchers:
        fetches = [fetchers.submit(fetch_then_submit, i, e) for i, e in enumerate(entries)]
        for _ in entries:
            index, page, future = done.get()
            try:
                article = future.result() if future is not None else extract_article(page, settings)
            except BrokenProcessPool:
                discard(pool)
                logger.warning("an extraction worker died; extracting %s here", page.entry.url)
                article = extract_article(page, settings)
            yield index, article
        for fetch in fetches:
            fetch.result()  # re-raise what a fetch thread raised (fetch_page records failures)
