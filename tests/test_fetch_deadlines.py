"""A feed that accepts and says nothing, or trickles a byte at a time, cannot hold the pass.

Real TCP servers on 127.0.0.1: one accepts connections and never answers, one answers a byte
every 0.2 s (headers included, so no single read ever waits long enough for `fetch.timeout`).
Both must end as reason "timeout" within `fetch.request_deadline` per attempt and
`fetch.retry_budget` per URL, while a healthy feed in the same batch still comes back OK.
"""

from __future__ import annotations

import dataclasses
import email.utils
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from banwatch.ingest.feeds import fetch_feeds
from banwatch.ingest.fetch import fetch_page
from banwatch.ingest.http import make_client

from banwatch.config import FetchSettings
from banwatch.records import FeedSpec, Outcome, ParsedEntry

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>'
    b"<item><title>Harbour bridge reopens</title><link>http://127.0.0.1/a</link></item>"
    b"</channel></rss>"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(FEED), FEED)
)

# Retry-After as an HTTP date, an hour ahead of the request.
LIMITED = (
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: %s\r\nContent-Length: 0\r\n"
    b"Connection: close\r\n\r\n" % email.utils.formatdate(time.time() + 3600, usegmt=True).encode()
)


class RawServer:
    """A TCP server on 127.0.0.1 that counts connections and serves each with `behaviour`."""

    def __init__(self, behaviour: str, gap: float = 0.2, give_up_after: float = 30.0) -> None:
        self.behaviour = behaviour  # "silent", "trickle" or "limited" (429, retry in an hour)
        self.gap = gap
        self.give_up_after = give_up_after  # bounds the test even if the client never stops
        self.connections = 0
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}/feed.xml"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(self.give_up_after)
            try:
                conn.recv(65536)  # the request; its content does not matter
                if self.behaviour == "silent":
                    self._stop.wait(self.give_up_after)
                    return
                if self.behaviour == "limited":
                    conn.sendall(LIMITED)
                    return
                ends = time.monotonic() + self.give_up_after
                for byte in RESPONSE:
                    if self._stop.wait(self.gap) or time.monotonic() > ends:
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the client hung up: what a deadline should do


@pytest.fixture
def slow_settings(fetch_settings: FetchSettings) -> FetchSettings:
    """Short limits: a 1 s read timeout, 1.5 s per request, 4 s per URL, two retries."""
    return fetch_settings.replace(
        timeout=1.0, request_deadline=1.5, retry_budget=4.0, retry_max_wait=0.2
    )


@pytest.fixture
def servers() -> Iterator[tuple[RawServer, RawServer]]:
    with RawServer("silent") as silent, RawServer("trickle") as trickle:
        yield silent, trickle


def test_silent_and_trickling_feeds_end_as_timeout_and_the_pass_goes_on(
    servers, newsroom, make_item, slow_settings
) -> None:
    silent, trickle = servers
    newsroom.add([make_item("gazette", "depot-park")])
    feeds = [
        FeedSpec("silent", silent.url),
        FeedSpec("trickle", trickle.url),
        FeedSpec("gazette", newsroom.feed_url("gazette")),
    ]
    started = time.monotonic()
    with make_client(slow_settings) as client:
        results = fetch_feeds(feeds, {}, client, slow_settings)
    elapsed = time.monotonic() - started

    by_name = {r.feed_name: r for r in results}
    for name in ("silent", "trickle"):
        assert (by_name[name].outcome, by_name[name].reason) == (Outcome.TEMPORARY, "timeout")
        assert "fetch.retry_budget" in by_name[name].error
    assert (by_name["gazette"].outcome, len(by_name["gazette"].entries)) == (Outcome.OK, 1)
    # Retried as configured (3 attempts fit in the budget on an idle machine, fewer on a busy one)
    assert 1 <= silent.connections <= 3
    assert 1 <= trickle.connections <= 3
    assert elapsed < 15  # generous: the trickle alone would take ~70 s to finish a response


def test_the_budget_not_the_retry_count_ends_a_silent_feed(slow_settings) -> None:
    settings = slow_settings.replace(retries=20, retry_budget=2.5)
    with RawServer("silent") as silent, make_client(settings) as client:
        (result,) = fetch_feeds([FeedSpec("silent", silent.url)], {}, client, settings)
    assert result.reason == "timeout"
    assert 1 <= silent.connections <= 3  # 21 attempts allowed; the 2.5 s budget fits at most 3


def test_a_trickling_page_is_cut_off_by_the_request_deadline(slow_settings) -> None:
    settings = slow_settings.replace(retries=0)
    entry = ParsedEntry(
        feed_name="trickle", url="", link="", title="t", summary="s", published_at=None
    )
    with RawServer("trickle", gap=0.1) as trickle, make_client(settings) as client:
        entry = dataclasses.replace(entry, url=trickle.url, link=trickle.url)
        page = fetch_page(entry, client, settings)
    assert (page.outcome, page.reason, page.html) == (Outcome.TEMPORARY, "timeout", None)
    assert trickle.connections == 1


def test_a_retry_after_date_is_honoured_up_to_the_longest_wait(slow_settings) -> None:
    settings = slow_settings.replace(retries=1, retry_max_wait=0.1)
    with RawServer("limited") as limited, make_client(settings) as client:
        (result,) = fetch_feeds([FeedSpec("limited", limited.url)], {}, client, settings)
    assert (result.outcome, result.reason, result.status_code) == (
        Outcome.TEMPORARY,
        "http_429",
        429,
    )
    assert limited.connections == 2  # the hour was cut to fetch.retry_max_wait, then retried


def test_a_retry_after_beyond_the_budget_is_not_waited_for(slow_settings) -> None:
    settings = slow_settings.replace(retries=3, retry_max_wait=7200)
    with RawServer("limited") as limited, make_client(settings) as client:
        (result,) = fetch_feeds([FeedSpec("limited", limited.url)], {}, client, settings)
    assert (result.reason, result.status_code) == ("http_429", 429)
    assert limited.connections == 1  # an hour's wait does not fit the 4 s budget: no retry
