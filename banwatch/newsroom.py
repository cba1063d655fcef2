"""A loopback newsroom: outlets' RSS/Atom feeds and article pages served on 127.0.0.1.

Tests, `banwatch demo` and the benchmarks point banwatch at this real HTTP server instead of the
internet. Feeds are generated from `NewsItem`s (newest first) with an ETag and Last-Modified
derived from their content, and conditional GETs are answered 304. Some feed links carry
tracking parameters (`?utm_source=rss...`) so URL canonicalisation is exercised.

Fault routes under `/fault/` reproduce what real servers do to a fetcher (500, 404, 429 with
Retry-After, slow and hanging answers, a 20+ MB page, a redirect, a Latin-1 page, HTML at a feed
URL, broken XML, a PDF). A fault that ends in an answer (429 on its second request, `slow`,
`redirect`) answers with a small feed when the path ends in `.xml` and an article page otherwise,
e.g. `/fault/429/feed.xml` or `/fault/slow/story.html`. Every wait is bounded and checks the
server's stop event, so `stop()` returns within about a second.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
import socket
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

logger = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
HUGE_BYTES = 21 * 1024 * 1024  # > 20 MB: larger than any sane `fetch.max_bytes`
SLOW_SECONDS = 3.0  # default delay of /fault/slow (override with ?seconds=, capped)
SLOW_MAX_SECONDS = 5.0
HANG_SECONDS = 10.0
FAULT_OUTLET = "fault"


@dataclass(frozen=True)
class NewsItem:
    """One article of one outlet: its feed entry fields and its full HTML page."""

    outlet: str
    slug: str
    title: str
    summary: str
    published: dt.datetime  # tz-aware UTC
    html: str  # the full article page
    feed_format: str = "rss"  # "rss" (RSS 2.0) or "atom"


# ---------------------------------------------------------------- built-in pages for faults

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


def _http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


# ---------------------------------------------------------------- feed rendering


def _tracked(link: str, slug: str) -> str:
    """Add tracking parameters to about half of the links, chosen stably by slug."""
    if hashlib.sha1(slug.encode()).digest()[0] % 2:
        return f"{link}?utm_source=rss&utm_medium=feed&utm_campaign={slug[:20]}"
    return link


def render_feed(outlet: str, items: list[NewsItem], base_url: str, feed_format: str) -> bytes:
    """A valid RSS 2.0 or Atom 1.0 document of `items` (already sorted newest first)."""
    home = f"{base_url}/{outlet}/"
    updated = max((i.published for i in items), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    if feed_format == "atom":
        ET.register_namespace("", ATOM_NS)
        feed = ET.Element(f"{{{ATOM_NS}}}feed")
        ET.SubElement(feed, f"{{{ATOM_NS}}}title").text = outlet
        ET.SubElement(feed, f"{{{ATOM_NS}}}id").text = home
        ET.SubElement(feed, f"{{{ATOM_NS}}}updated").text = updated.isoformat()
        ET.SubElement(feed, f"{{{ATOM_NS}}}link", href=home)
        ET.SubElement(feed, f"{{{ATOM_NS}}}link", rel="self", href=f"{home}feed.xml")
        for item in items:
            link = _tracked(f"{base_url}/{item.outlet}/{item.slug}.html", item.slug)
            entry = ET.SubElement(feed, f"{{{ATOM_NS}}}entry")
            ET.SubElement(entry, f"{{{ATOM_NS}}}title").text = item.title
            ET.SubElement(entry, f"{{{ATOM_NS}}}link", rel="alternate", href=link)
            ET.SubElement(entry, f"{{{ATOM_NS}}}id").text = f"tag:{outlet},2000:{item.slug}"
            ET.SubElement(entry, f"{{{ATOM_NS}}}published").text = item.published.isoformat()
            ET.SubElement(entry, f"{{{ATOM_NS}}}updated").text = item.published.isoformat()
            ET.SubElement(entry, f"{{{ATOM_NS}}}summary", type="html").text = item.summary
            author = ET.SubElement(entry, f"{{{ATOM_NS}}}author")
            ET.SubElement(author, f"{{{ATOM_NS}}}name").text = f"{outlet} staff"
        root = feed
    else:
        root = ET.Element("rss", version="2.0")
        channel = ET.SubElement(root, "channel")
        ET.SubElement(channel, "title").text = outlet
        ET.SubElement(channel, "link").text = home
        ET.SubElement(channel, "description").text = f"Latest news from {outlet}"
        ET.SubElement(channel, "lastBuildDate").text = email.utils.format_datetime(updated)
        for item in items:
            link = _tracked(f"{base_url}/{item.outlet}/{item.slug}.html", item.slug)
            node = ET.SubElement(channel, "item")
            ET.SubElement(node, "title").text = item.title
            ET.SubElement(node, "link").text = link
            ET.SubElement(node, "guid", isPermaLink="false").text = f"{outlet}-{item.slug}"
            ET.SubElement(node, "pubDate").text = email.utils.format_datetime(item.published)
            ET.SubElement(node, "description").text = item.summary
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a hanging handler
    newsroom: Newsroom

    def handle_error(self, request, client_address) -> None:
        # Clients hanging up (an aborted huge page, a timed-out fetch) are routine here.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logger.debug("newsroom: connection from %s ended abruptly", client_address)
        else:
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LoopbackNewsroom/1.0"
    timeout = 15  # an idle keep-alive connection ends its thread eventually
    server: _Server

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        logger.debug("newsroom: " + format, *args)

    def setup(self) -> None:
        super().setup()
        self.server.newsroom._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.newsroom._track(self.connection, add=False)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        nr = self.server.newsroom
        nr._log(self.command, self.path)
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        try:
            raw = nr._raw(path)
            if raw is not None:
                self._send(200, *raw)
            elif path.startswith("/fault/"):
                self._fault(path, query)
            else:
                self._newsroom(path)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True  # the client went away (e.g. aborted a huge page)

    # -- plain newsroom routes

    def _newsroom(self, path: str) -> None:
        nr = self.server.newsroom
        if path in ("/", "/index.html"):
            links = "".join(f'<li><a href="/{o}/feed.xml">{escape(o)}</a></li>' for o in nr.outlets)
            return self._send(200, f"<html><body><ul>{links}</ul></body></html>".encode())
        outlet, _, rest = path.strip("/").partition("/")
        if rest == "feed.xml":
            found = nr._feed(outlet)
            if found is None:
                return self._send(404, b"no such outlet", "text/plain; charset=utf-8")
            return self._conditional(*found)
        if rest.endswith(".html"):
            item = nr._item(outlet, rest[: -len(".html")])
            if item is not None:
                body = item.html.encode("utf-8")
                etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
                return self._conditional(body, etag, item.published, "text/html; charset=utf-8")
        self._send(404, b"<html><body><h1>Not found</h1></body></html>")

    def _conditional(self, body: bytes, etag: str, modified: dt.datetime, ctype: str) -> None:
        headers = {"ETag": etag, "Last-Modified": _http_date(modified)}
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            not_modified = etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        elif ims:
            try:
                since = email.utils.parsedate_to_datetime(ims)
                not_modified = modified.replace(microsecond=0) <= since
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            return self._send(304, b"", None, headers)
        self._send(200, body, ctype, headers)

    # -- fault routes

    def _fault(self, path: str, query: dict[str, list[str]]) -> None:
        nr = self.server.newsroom
        kind = path.split("/")[2]
        wants_feed = path.endswith(".xml")
        if kind == "500":
            return self._send(500, b"<html><body>Internal Server Error</body></html>")
        if kind == "404":
            return self._send(404, b"<html><body>Not Found</body></html>")
        if kind == "429":
            if nr._count(self.path) == 1:
                return self._send(429, b"slow down", "text/plain", {"Retry-After": "1"})
            return self._success(wants_feed)
        if kind == "slow":
            seconds = min(float(query.get("seconds", [SLOW_SECONDS])[0]), SLOW_MAX_SECONDS)
            if nr._stopping.wait(seconds):
                return
            return self._success(wants_feed)
        if kind == "hang":
            nr._stopping.wait(HANG_SECONDS)
            self.close_connection = True
            return
        if kind == "redirect":
            target = query.get("to", [f"/fault/ok/{'feed.xml' if wants_feed else 'story.html'}"])[0]
            return self._send(302, b"", None, {"Location": nr.base_url + target})
        if kind == "ok":
            return self._success(wants_feed)
        if kind == "huge":
            return self._huge()
        if kind == "latin1":
            page = fault_page(
                "Le musée rouvre ses portes",
                lang="fr",
                charset="iso-8859-1",
                paragraphs=_LATIN1_PARAGRAPHS,
            )
            return self._send(200, page.encode("iso-8859-1"), "text/html; charset=ISO-8859-1")
        if kind == "notfeed":
            return self._send(200, fault_page().encode())
        if kind == "malformed":
            return self._send(200, _MALFORMED_FEED, "application/rss+xml; charset=utf-8")
        if kind == "garbage":
            return self._send(200, _GARBAGE_FEED, "application/xml; charset=utf-8")
        if kind == "binary":
            return self._send(200, _PDF, "application/pdf")
        self._send(404, b"<html><body>No such fault</body></html>")

    def _success(self, wants_feed: bool) -> None:
        nr = self.server.newsroom
        if wants_feed:
            item = NewsItem(
                FAULT_OUTLET,
                "story",
                "Night buses to reach four more suburbs",
                "The transport authority extends the night network.",
                dt.datetime(2024, 1, 2, 8, tzinfo=dt.UTC),
                "",
            )
            body = render_feed(FAULT_OUTLET, [item], nr.base_url, "rss")
            return self._send(200, body, "application/rss+xml; charset=utf-8")
        self._send(200, fault_page().encode())

    def _huge(self) -> None:
        """Stream > 20 MB of HTML without Content-Length; stop when the client hangs up."""
        nr = self.server.newsroom
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"<!DOCTYPE html><html><head><title>Huge</title></head><body>\n")
        chunk = b"<p>" + b"All work and no play makes a very large page. " * 1300 + b"</p>\n"
        sent = 0
        while sent < HUGE_BYTES and not nr._stopping.is_set():
            self.wfile.write(chunk)
            sent += len(chunk)
        self.wfile.write(b"</body></html>\n")

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str | None = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        if ctype and status != 304:
            self.send_header("Content-Type", ctype)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)


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


class Newsroom:
    """The loopback newsroom server; a context manager (`with Newsroom(items) as nr: ...`)."""

    def __init__(self, items: Iterable[NewsItem] = (), host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], NewsItem] = {}
        self._outlets: dict[str, None] = {}  # insertion-ordered set
        self._requests: list[tuple[str, str]] = []
        self._counters: dict[str, int] = {}
        self._raw_routes: dict[str, tuple[bytes, str]] = {}
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._host, self._port = host, port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.add(items)

    # -- public API

    def add(self, items: Iterable[NewsItem]) -> None:
        """Publish more items (or replace ones with the same outlet and slug)."""
        with self._lock:
            for item in items:
                if item.published.tzinfo is None:
                    raise ValueError(f"{item.outlet}/{item.slug}: published must be tz-aware")
                self._items[(item.outlet, item.slug)] = item
                self._outlets.setdefault(item.outlet, None)

    def open_outlets(self, outlets: Iterable[str]) -> None:
        """Serve a feed for each outlet even before it publishes anything (an empty feed)."""
        with self._lock:
            for outlet in outlets:
                self._outlets.setdefault(outlet, None)

    def put(
        self, path: str, body: bytes | str, content_type: str = "text/html; charset=utf-8"
    ) -> str:
        """Serve `body` verbatim at `path` (e.g. a recorded feed file); returns its URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        path = "/" + path.lstrip("/")
        with self._lock:
            self._raw_routes[path] = (data, content_type)
        return self.base_url + path

    def start(self) -> Newsroom:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self._host, self._port), _Handler)
        self._server.newsroom = self
        host, port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="newsroom",
            daemon=True,
        )
        self._thread.start()
        logger.debug("newsroom serving %d items at %s", len(self._items), self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving; wakes slow/hanging handlers and drops open connections."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=1)
        self._server = None
        self._thread = None

    def __enter__(self) -> Newsroom:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def outlets(self) -> list[str]:
        with self._lock:
            return list(self._outlets)

    @property
    def items(self) -> list[NewsItem]:
        with self._lock:
            return list(self._items.values())

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def feed_url(self, outlet: str) -> str:
        return f"{self.base_url}/{outlet}/feed.xml"

    def page_url(self, outlet: str, slug: str) -> str:
        return f"{self.base_url}/{outlet}/{slug}.html"

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

    def _item(self, outlet: str, slug: str) -> NewsItem | None:
        with self._lock:
            return self._items.get((outlet, slug))

    def _feed(self, outlet: str) -> tuple[bytes, str, dt.datetime, str] | None:
        with self._lock:
            if outlet not in self._outlets:
                return None
            items = [i for (o, _), i in self._items.items() if o == outlet]
        items.sort(key=lambda i: (i.published, i.slug), reverse=True)
        fmt = items[0].feed_format if items else "rss"
        body = render_feed(outlet, items, self.base_url, fmt)
        etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
        modified = max((i.published for i in items), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        return (
            body,
            etag,
            modified,
            f"application/{fmt if fmt == 'atom' else 'rss'}+xml; charset=utf-8",
        )
