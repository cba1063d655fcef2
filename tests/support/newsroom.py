"""The tests' loopback newsroom: the sample newsroom plus fault routes, raw routes, a request log.

Builds on `banwatch.sample.newsroom` (feeds, pages, conditional GETs) and adds what tests need to
reproduce what real servers do to a fetcher. Fault routes under `/fault/<kind>`: 500, 404, 429
with Retry-After (on its first request per path), slow and hanging answers, a 20+ MB page, a
redirect, a Latin-1 page, HTML at a feed URL, broken XML, a PDF. A fault that ends in an answer
(`429` on its second request, `slow`, `redirect`, `ok`) answers with a small feed when the path
ends in `.xml` and an article page otherwise, e.g. `/fault/429/feed.xml`. Every wait is bounded
and checks the server's stop event, so `stop()` returns within about a second.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from html import escape

from banwatch.sample.newsroom import (
    HTML,
    NewsItem,
    NewsroomHandler,
    SampleNewsroom,
    render_feed,
)

__all__ = ["NewsItem", "Newsroom", "fault_page", "render_feed"]

logger = logging.getLogger(__name__)

HUGE_BYTES = 21 * 1024 * 1024  # > 20 MB: larger than any sane `fetch.max_bytes`
SLOW_SECONDS = 3.0  # default delay of /fault/slow (override with ?seconds=, capped)
SLOW_MAX_SECONDS = 5.0
HANG_SECONDS = 10.0
FAULT_OUTLET = "fault"

_FAULT_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="{charset}"><title>{title}</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/tech">Tech</a></nav>
<article>
<h1>{title}</h1>
<p class="byline">By the newsroom staff</p>
{paragraphs}
</article>
<footer>Copyright the Loopback Gazette. All rights reserved.</footer>
</body></html>
"""

_FAULT_PARAGRAPHS = [
    "The regional transport authority said on Tuesday that it would extend the night bus "
    "network to four more suburbs from the start of next month, after a year-long trial drew "
    "more passengers than planners had expected.",
    "Officials said the trial routes carried an average of three hundred riders a night, most "
    "of them shift workers travelling between the hospital district and the outer estates.",
    "The expansion will be paid for from the existing operating budget, the authority said, "
    "although unions warned that recruiting enough drivers for the late shifts would be hard.",
    "Residents in the affected areas will be able to comment on the proposed timetables at a "
    "series of public meetings over the coming weeks.",
]

_LATIN1_PARAGRAPHS = [
    "Le ministère de la Culture a annoncé jeudi la réouverture du musée après deux années de "
    "travaux, avec une façade rénovée et un café installé sous la verrière.",
    "Selon la directrice, les collections seront présentées dans un ordre chronologique, de "
    "l'époque médiévale jusqu'aux créations contemporaines.",
    "Les élèves des écoles de la région pourront visiter l'exposition gratuitement pendant "
    "toute l'année scolaire, a précisé le ministère.",
]


def fault_page(
    title: str = "Night buses to reach four more suburbs",
    *,
    lang: str = "en",
    charset: str = "utf-8",
    paragraphs: Iterable[str] = _FAULT_PARAGRAPHS,
) -> str:
    """A small, realistic article page (the body of fault routes that end in success)."""
    body = "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return _FAULT_PAGE.format(lang=lang, charset=charset, title=escape(title), paragraphs=body)


_MALFORMED_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Broken wire</title><link>http://example.invalid/</link>
<item><title>Harbour ferry timetable changes &nbsp; from Monday</title>
<link>http://example.invalid/ferry.html</link>
<description>The ferry operator publishes a new timetable.</description></item>
<item><title>Library opening hours extended</title>
<link>http://example.invalid/library.html</link>
<description>Evening opening on Thursdays <b>starting next week</description></item>
"""  # undefined entity, mismatched tag, truncated: feedparser's loose parser still finds items

_GARBAGE_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Nothing here</title><<<>>> &&& </rss
"""

_PDF = (
    b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
    + bytes(range(256)) * 16
    + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)

_LATIN1_PAGE = fault_page(
    "Le musée rouvre ses portes", lang="fr", charset="iso-8859-1", paragraphs=_LATIN1_PARAGRAPHS
).encode("iso-8859-1")

# Faults that always give the same answer: kind -> (status, body, Content-Type)
FIXED_FAULTS: dict[str, tuple[int, bytes, str]] = {
    "500": (500, b"<html><body>Internal Server Error</body></html>", HTML),
    "404": (404, b"<html><body>Not Found</body></html>", HTML),
    "latin1": (200, _LATIN1_PAGE, "text/html; charset=ISO-8859-1"),
    "notfeed": (200, fault_page().encode(), HTML),
    "malformed": (200, _MALFORMED_FEED, "application/rss+xml; charset=utf-8"),
    "garbage": (200, _GARBAGE_FEED, "application/xml; charset=utf-8"),
    "binary": (200, _PDF, "application/pdf"),
}


class FaultHandler(NewsroomHandler):
    """Raw routes first, then `/fault/...`, then the sample newsroom's own routes."""

    server_version = "LoopbackNewsroom/1.0"

    @property
    def newsroom(self) -> Newsroom:
        return self.server.newsroom  # type: ignore[return-value]

    def setup(self) -> None:
        super().setup()
        self.newsroom._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.newsroom._track(self.connection, add=False)

    def route(self, path: str, query: dict[str, list[str]]) -> None:
        nr = self.newsroom
        nr._log(self.command, self.path)
        raw = nr._raw(path)
        if raw is not None:
            return self.send(200, *raw)
        if path.startswith("/fault/"):
            return self._fault(path, query)
        super().route(path, query)

    def _fault(self, path: str, query: dict[str, list[str]]) -> None:
        kind = path.split("/")[2]
        if kind in FIXED_FAULTS:
            return self.send(*FIXED_FAULTS[kind])
        answer = _DYNAMIC_FAULTS.get(kind)
        if answer is None:
            return self.send(404, b"<html><body>No such fault</body></html>")
        answer(self, path.endswith(".xml"), query)

    # -- faults whose answer depends on the request or the clock

    def _too_many(self, wants_feed: bool, query: dict[str, list[str]]) -> None:
        if self.newsroom._count(self.path) == 1:
            return self.send(429, b"slow down", "text/plain", {"Retry-After": "1"})
        self._success(wants_feed, query)

    def _slow(self, wants_feed: bool, query: dict[str, list[str]]) -> None:
        seconds = min(float(query.get("seconds", [SLOW_SECONDS])[0]), SLOW_MAX_SECONDS)
        if not self.newsroom._stopping.wait(seconds):
            self._success(wants_feed, query)

    def _hang(self, wants_feed: bool, query: dict[str, list[str]]) -> None:
        self.newsroom._stopping.wait(HANG_SECONDS)
        self.close_connection = True

    def _redirect(self, wants_feed: bool, query: dict[str, list[str]]) -> None:
        target = query.get("to", [f"/fault/ok/{'feed.xml' if wants_feed else 'story.html'}"])[0]
        self.send(302, b"", None, {"Location": self.newsroom.base_url + target})

    def _success(self, wants_feed: bool, query: dict[str, list[str]]) -> None:
        if not wants_feed:
            return self.send(200, fault_page().encode())
        item = NewsItem(
            FAULT_OUTLET,
            "story",
            "Night buses to reach four more suburbs",
            "The transport authority extends the night network.",
            dt.datetime(2024, 1, 2, 8, tzinfo=dt.UTC),
            "",
        )
        body = render_feed(FAULT_OUTLET, [item], self.newsroom.base_url, "rss")
        self.send(200, body, "application/rss+xml; charset=utf-8")

    def _huge(self, wants_feed: bool, query: dict[str, list[str]]) -> None:
        """Stream > 20 MB of HTML without Content-Length; stop when the client hangs up."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", HTML)
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"<!DOCTYPE html><html><head><title>Huge</title></head><body>\n")
        chunk = b"<p>" + b"All work and no play makes a very large page. " * 1300 + b"</p>\n"
        sent = 0
        while sent < HUGE_BYTES and not self.newsroom._stopping.is_set():
            self.wfile.write(chunk)
            sent += len(chunk)
        self.wfile.write(b"</body></html>\n")


_DYNAMIC_FAULTS: dict[str, Callable[[FaultHandler, bool, dict[str, list[str]]], None]] = {
    "429": FaultHandler._too_many,
    "slow": FaultHandler._slow,
    "hang": FaultHandler._hang,
    "redirect": FaultHandler._redirect,
    "ok": FaultHandler._success,
    "huge": FaultHandler._huge,
}
FAULT_KINDS = (*FIXED_FAULTS, *_DYNAMIC_FAULTS)


class Newsroom(SampleNewsroom):
    """The loopback newsroom of the tests; a context manager (`with Newsroom(items) as nr:`)."""

    handler = FaultHandler

    def __init__(self, items: Iterable[NewsItem] = (), host: str = "127.0.0.1", port: int = 0):
        self._requests: list[tuple[str, str]] = []
        self._counters: dict[str, int] = {}
        self._raw_routes: dict[str, tuple[bytes, str]] = {}
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        super().__init__(items, host, port)

    def put(self, path: str, body: bytes | str, content_type: str = HTML) -> str:
        """Serve `body` verbatim at `path` (e.g. a recorded feed file); returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        path = "/" + path.lstrip("/")
        with self._lock:
            self._raw_routes[path] = (data, content_type)
        return self.base_url + path

    def start(self) -> Newsroom:
        self._stopping.clear()
        super().start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes slow/hanging handlers and drops open connections."""
        self._stopping.set()
        super().stop()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> Newsroom:
        return self.start()

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def fault_url(self, kind: str, suffix: str = "") -> str:
        """URL of a fault route, e.g. `fault_url("429", "/feed.xml")`."""
        return f"{self.base_url}/fault/{kind}{suffix}"

    # -- used by the handler

    def _log(self, method: str, path: str) -> None:
        with self._lock:
            self._requests.append((method, path))

    def _count(self, key: str) -> int:
        with self._lock:
            self._counters[key] = self._counters.get(key, 0) + 1
            return self._counters[key]

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def _raw(self, path: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._raw_routes.get(path)
