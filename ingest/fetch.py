"""Fetch article pages concurrently and decode them to text with the right charset.

Each entry becomes one `FetchedPage` with an outcome and a fixed reason; a failing page never
stops the batch. Non-HTML answers (a PDF at a page URL) are refused by their content type before
the body is downloaded ("not_html").
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import httpx
from banwatch.ingest.http import describe, exception_to_outcome, get
from trafilatura.utils import detect_encoding
from w3lib.encoding import html_to_unicode

from banwatch.config import FetchSettings
from banwatch.errors import FetchError
from banwatch.records import Outcome, ParsedEntry

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class FetchedPage:
    """One article page as fetched: the entry it came from, its decoded HTML and outcome."""

    entry: ParsedEntry
    outcome: Outcome = Outcome.OK
    reason: str = "ok"
    final_url: str | None = None  # after redirects
    status_code: int | None = None
    content_type: str | None = None
    raw: bytes | None = None  # the body exactly as received
    html: str | None = None  # decoded with the charset of the header, meta tag or detection
    error: str | None = None
    fetched_at: dt.datetime | None = None
    undecoded: bool = False  # fetched whole, `raw` left for `decode_page` (in another process)

    @property
    def ok(self) -> bool:
        return self.html is not None or self.undecoded


def _detect(raw: bytes) -> str | None:
    """Undeclared pages: trafilatura's guess (UTF-8 if it decodes, else charset detection)."""
    guesses = detect_encoding(raw)
    return guesses[0] if guesses else None


def decode_html(raw: bytes, content_type: str | None = None) -> str:
    """Decode a page: BOM, then the Content-Type charset, then <meta>, then detection.

    w3lib follows the browsers (WHATWG): Latin-1 and ASCII labels decode as windows-1252, and
    bytes the chosen charset cannot decode become U+FFFD rather than failing the page.
    """
    return html_to_unicode(content_type, raw, auto_detect_fun=_detect)[1]


def _require_html(response: httpx.Response) -> None:
    """Refuse non-HTML bodies before downloading them."""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and ctype not in HTML_TYPES:
        raise FetchError(
            f"content type {ctype!r} is not an HTML page",
            url=str(response.url),
            reason="not_html",
            status_code=response.status_code,
        )


def _looks_binary(raw: bytes) -> bool:
    head = raw[:1024]
    return head.startswith(b"%PDF") or b"\x00" in head


def fetch_page(
    entry: ParsedEntry, client: httpx.Client, settings: FetchSettings, *, decode: bool = True
) -> FetchedPage:
    """Fetch and decode one page; failures are recorded on the page, never raised.

    Without `decode` the body stays bytes (`undecoded`) for `decode_page`: a page bound for an
    extraction process crosses as its raw bytes only, not also as text (a str of the page is
    1-4 bytes a character: the pass held both for every page waiting for a worker).
    """
    page = FetchedPage(entry=entry, fetched_at=dt.datetime.now(dt.UTC))
    # Fetch the link exactly as the feed gave it: canonicalisation is for identity, and a
    # publisher may need a parameter courlan considers noise.
    url = entry.link or entry.url
    try:
        response = get(client, url, settings=settings, check=_require_html)
        page.final_url = str(response.url)
        page.status_code = response.status_code
        page.content_type = response.headers.get("content-type")
        page.raw = response.content
        if _looks_binary(page.raw):
            raise FetchError("body is binary, not an HTML page", url=url, reason="not_html")
        if decode:
            page.html = decode_html(page.raw, page.content_type)
        else:
            page.undecoded = True
    except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome on the page
        _failed(page, exc, url)
    return page


def decode_page(page: FetchedPage) -> FetchedPage:
    """Decode the body `fetch_page(decode=False)` left as bytes; other pages are unchanged."""
    if page.undecoded:
        page.undecoded = False
        try:
            page.html = decode_html(page.raw or b"", page.content_type)
        except Exception as exc:  # noqa: BLE001 - as in fetch_page: an outcome on the page
            _failed(page, exc, page.entry.link or page.entry.url)
    return page


def _failed(page: FetchedPage, exc: BaseException, url: str) -> None:
    page.outcome, page.reason, code = exception_to_outcome(exc)
    page.status_code = page.status_code or code
    page.error = describe(exc)
    page.html = None
    logger.info("page %s: %s (%s)", url, page.reason, page.error)


def iter_pages(
    entries: Sequence[ParsedEntry], client: httpx.Client, settings: FetchSettings
) -> Iterator[tuple[int, FetchedPage]]:
    """Yield (index, page) as pages arrive, so a caller can extract while others download."""
    if not entries:
        return
    workers = max(1, min(settings.concurrency, len(entries)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pages") as pool:
        futures = {pool.submit(fetch_page, e, client, settings): i for i, e in enumerate(entries)}
        for future in as_completed(futures):
            yield futures[future], future.result()


def fetch_articles(
    entries: Sequence[ParsedEntry], client: httpx.Client, settings: FetchSettings
) -> list[FetchedPage]:
    """Fetch the pages of `entries` concurrently (up to `fetch.concurrency`), in entry order."""
    pages: list[FetchedPage | None] = [None] * len(entries)
    for index, page in iter_pages(entries, client, settings):
        pages[index] = page
    done = [p for p in pages if p is not None]
    logger.info(
        "fetched %d pages: %d ok, %d failed",
        len(done),
        sum(p.ok for p in done),
        sum(not p.ok for p in done),
    )
    return done
