"""The sample newsroom: outlets' RSS/Atom feeds and article pages served on 127.0.0.1.

`banwatch demo` points the real pipeline at this server instead of the internet, so it runs
offline from any install. The test kit's newsroom (`tests/support/newsroom.py`) builds on it and
adds fault routes. Feeds are generated from `NewsItem`s (newest first) with an ETag and
Last-Modified derived from their content, and conditional GETs are answered 304, as real servers
do. About half of the feed links carry tracking parameters (`?utm_source=rss...`), so the
pipeline's URL canonicalisation has work to do.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import logging
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
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)  # Last-Modified of an empty feed
HTML = "text/html; charset=utf-8"


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


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha1(body).hexdigest()[:20] + '"'


# ---------------------------------------------------------------- feed rendering


def _tracked(link: str, slug: str) -> str:
    """Add tracking parameters to about half of the links, chosen stably by slug."""
    if hashlib.sha1(slug.encode()).digest()[0] % 2:
        return f"{link}?utm_source=rss&utm_medium=feed&utm_campaign={slug[:20]}"
    return link


def _atom(outlet: str, items: list[NewsItem], base_url: str, updated: dt.datetime) -> ET.Element:
    home = f"{base_url}/{outlet}/"

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        node.text = text
        return node

    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "title", outlet)
    sub(feed, "id", home)
    sub(feed, "updated", updated.isoformat())
    sub(feed, "link", href=home)
    sub(feed, "link", rel="self", href=f"{home}feed.xml")
    for item in items:
        entry = sub(feed, "entry")
        sub(entry, "title", item.title)
        link = _tracked(f"{base_url}/{item.outlet}/{item.slug}.html", item.slug)
        sub(entry, "link", rel="alternate", href=link)
        sub(entry, "id", f"tag:{outlet},2000:{item.slug}")
        sub(entry, "published", item.published.isoformat())
        sub(entry, "updated", item.published.isoformat())
        sub(entry, "summary", item.summary, type="html")
        sub(sub(entry, "author"), "name", f"{outlet} staff")
    return feed


def _rss(outlet: str, items: list[NewsItem], base_url: str, updated: dt.datetime) -> ET.Element:
    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, tag, attrs)
        node.text = text
        return node

    root = ET.Element("rss", version="2.0")
    channel = sub(root, "channel")
    sub(channel, "title", outlet)
    sub(channel, "link", f"{base_url}/{outlet}/")
    sub(channel, "description", f"Latest news from {outlet}")
    sub(channel, "lastBuildDate", email.utils.format_datetime(updated))
    for item in items:
        node = sub(channel, "item")
        sub(node, "title", item.title)
        sub(node, "link", _tracked(f"{base_url}/{item.outlet}/{item.slug}.html", item.slug))
        sub(node, "guid", f"{outlet}-{item.slug}", isPermaLink="false")
        sub(node, "pubDate", email.utils.format_datetime(item.published))
        sub(node, "description", item.summary)
    return root


def render_feed(outlet: str, items: list[NewsItem], base_url: str, feed_format: str) -> bytes:
    """A valid RSS 2.0 or Atom 1.0 document of `items` (already sorted newest first)."""
    updated = max((i.published for i in items), default=_EPOCH)
    build = _atom if feed_format == "atom" else _rss
    return ET.tostring(
        build(outlet, items, base_url, updated), encoding="utf-8", xml_declaration=True
    )


# ---------------------------------------------------------------- the server


class NewsroomHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for a handler still writing
    newsroom: SampleNewsroom

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - stdlib signature
        # Clients hanging up (an aborted page, a timed-out fetch) are routine here.
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            logger.debug("newsroom: connection from %s ended abruptly", client_address)
        else:
            super().handle_error(request, client_address)


class NewsroomHandler(BaseHTTPRequestHandler):
    """The index, each outlet's feed and each article page; subclasses add routes in `route`."""

    protocol_version = "HTTP/1.1"
    server_version = "SampleNewsroom/1.0"
    timeout = 15  # an idle keep-alive connection ends its thread eventually
    server: NewsroomHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        logger.debug("newsroom: " + format, *args)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        parts = urlsplit(self.path)
        try:
            self.route(parts.path, parse_qs(parts.query))
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError):
            self.close_connection = True  # the client went away

    def route(self, path: str, query: dict[str, list[str]]) -> None:
        """Answer one GET/HEAD of `path`: the index, a feed, a page, or 404."""
        nr = self.server.newsroom
        if path in ("/", "/index.html"):
            links = "".join(f'<li><a href="/{o}/feed.xml">{escape(o)}</a></li>' for o in nr.outlets)
            return self.send(200, f"<html><body><ul>{links}</ul></body></html>".encode())
        outlet, _, rest = path.strip("/").partition("/")
        if rest == "feed.xml":
            found = nr.feed(outlet)
            if found is None:
                return self.send(404, b"no such outlet", "text/plain; charset=utf-8")
            return self.conditional(*found)
        if rest.endswith(".html"):
            item = nr.item(outlet, rest.removesuffix(".html"))
            if item is not None:
                body = item.html.encode("utf-8")
                return self.conditional(body, etag_of(body), item.published, HTML)
        self.send(404, b"<html><body><h1>Not found</h1></body></html>")

    def _not_modified(self, etag: str, modified: dt.datetime) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if not ims:
            return False
        try:
            return modified.replace(microsecond=0) <= email.utils.parsedate_to_datetime(ims)
        except (TypeError, ValueError):
            return False

    def conditional(self, body: bytes, etag: str, modified: dt.datetime, ctype: str) -> None:
        """200 with validators, or 304 when the client's copy is current."""
        headers = {"ETag": etag, "Last-Modified": http_date(modified)}
        if self._not_modified(etag, modified):
            return self.send(304, b"", None, headers)
        self.send(200, body, ctype, headers)

    def send(
        self,
        status: int,
        body: bytes,
        ctype: str | None = HTML,
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


class SampleNewsroom:
    """A loopback news site; a context manager (`with SampleNewsroom(items) as nr: ...`)."""

    handler: type[NewsroomHandler] = NewsroomHandler

    def __init__(self, items: Iterable[NewsItem] = (), host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], NewsItem] = {}
        self._outlets: dict[str, None] = {}  # insertion-ordered set
        self._host, self._port = host, port
        self._server: NewsroomHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self.add(items)

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

    def start(self) -> SampleNewsroom:
        if self._server is not None:
            return self
        self._server = NewsroomHTTPServer((self._host, self._port), self.handler)
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
        """Stop serving (handler threads are daemons: a slow client cannot hold this up)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=1)
        self._server = None
        self._thread = None

    def __enter__(self) -> SampleNewsroom:
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

    def feed_url(self, outlet: str) -> str:
        return f"{self.base_url}/{outlet}/feed.xml"

    def page_url(self, outlet: str, slug: str) -> str:
        return f"{self.base_url}/{outlet}/{slug}.html"

    def item(self, outlet: str, slug: str) -> NewsItem | None:
        with self._lock:
            return self._items.get((outlet, slug))

    def feed(self, outlet: str) -> tuple[bytes, str, dt.datetime, str] | None:
        """(body, ETag, Last-Modified, Content-Type) of `outlet`'s feed; None if unknown."""
        with self._lock:
            if outlet not in self._outlets:
                return None
            items = [i for (o, _), i in self._items.items() if o == outlet]
        items.sort(key=lambda i: (i.published, i.slug), reverse=True)
        fmt = items[0].feed_format if items else "rss"
        body = render_feed(outlet, items, self.base_url, fmt)
        modified = max((i.published for i in items), default=_EPOCH)
        ctype = f"application/{'atom' if fmt == 'atom' else 'rss'}+xml; charset=utf-8"
        return body, etag_of(body), modified, ctype
