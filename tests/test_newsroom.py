"""The sample newsroom the demo serves, and the fault routes the other tests rely on.

The demo's feeds and pages must read as a feed reader and a browser read them, with the
conditional GETs real servers answer; each fault route must answer as `tests/support/newsroom.py`
documents, or the tests that use it would pass without testing what they say.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from html import unescape

import feedparser
import httpx
import pytest

from banwatch.sample import load_sample
from banwatch.sample.newsroom import SampleNewsroom
from tests.support.newsroom import Newsroom

NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as c:
        yield c


@pytest.fixture(scope="module")
def sample() -> Iterator[SampleNewsroom]:
    """The demo's server with the demo's corpus."""
    with SampleNewsroom(load_sample(max_phase=1, now=NOW)) as newsroom:
        yield newsroom


# ---------------------------------------------------------------- what the demo serves


def test_every_sample_feed_parses_and_links_to_its_pages(sample, client) -> None:
    versions = set()
    for outlet in sample.outlets:
        feed = feedparser.parse(client.get(sample.feed_url(outlet)).content)
        assert not feed.bozo and feed.entries, outlet
        versions.add(feed.version)
        times = [e.published_parsed for e in feed.entries]
        assert times == sorted(times, reverse=True), outlet  # newest first
        for entry in feed.entries:
            page = client.get(entry.link)
            assert page.status_code == 200, entry.link
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert entry.title in unescape(page.text)
    assert versions == {"rss20", "atom10"}
    assert client.get(sample.page_url(sample.outlets[0], "no-such-story")).status_code == 404
    assert client.get(sample.feed_url("no-such-outlet")).status_code == 404


def test_conditional_get_answers_304_until_the_feed_changes(newsroom, make_item, client) -> None:
    newsroom.add([make_item("gazette", "first", "First story", hours_ago=2)])
    url = newsroom.feed_url("gazette")
    first = client.get(url)
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    newsroom.add([make_item("gazette", "second", "Second story", hours_ago=1)])
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 200
    titles = [e.title for e in feedparser.parse(again.content).entries]
    assert titles == ["Second story", "First story"]


# ---------------------------------------------------------------- the tests' fault routes


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("500", 500, "text/html"),
        ("404", 404, "text/html"),
        ("binary", 200, "application/pdf"),
        ("notfeed", 200, "text/html"),
        ("malformed", 200, "application/rss+xml"),
        ("garbage", 200, "application/xml"),
        ("latin1", 200, "text/html; charset=ISO-8859-1"),
        ("ok", 200, "text/html"),
        ("redirect", 302, None),
        ("no-such-fault", 404, "text/html"),
    ],
)
def test_fault_routes_answer_as_documented(newsroom, client, kind, status, content_type) -> None:
    response = client.get(newsroom.fault_url(kind))
    assert response.status_code == status
    if content_type:
        assert response.headers["content-type"].startswith(content_type)


def test_429_then_success_per_path(newsroom, client) -> None:
    url = newsroom.fault_url("429", "/story.html")
    first = client.get(url)
    assert (first.status_code, first.headers["retry-after"]) == (429, "1")
    assert client.get(url).status_code == 200
    assert client.get(newsroom.fault_url("429", "/feed.xml")).status_code == 429  # own counter
    feed = client.get(newsroom.fault_url("429", "/feed.xml"))
    assert feedparser.parse(feed.content).entries


def test_redirect_and_latin1_pages_read_as_a_browser_reads_them(newsroom, client) -> None:
    followed = client.get(newsroom.fault_url("redirect"), follow_redirects=True)
    assert followed.status_code == 200 and "Night buses" in followed.text
    latin1 = client.get(newsroom.fault_url("latin1"))
    assert "musée".encode("iso-8859-1") in latin1.content and "musée" in latin1.text


def test_slow_route_exceeds_a_short_timeout(newsroom, client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get(newsroom.fault_url("slow"), timeout=0.3)


def test_stop_releases_a_hanging_request() -> None:
    outcome: list[str] = []
    nr = Newsroom().start()

    def hang() -> None:
        try:
            httpx.get(nr.fault_url("hang"), timeout=30)
            outcome.append("answered")
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=hang)
    thread.start()
    deadline = time.monotonic() + 10
    while not any(path == "/fault/hang" for _, path in nr.requests):
        assert time.monotonic() < deadline, "the request never reached the newsroom"
        thread.join(0.01)
    nr.stop()
    thread.join(8)  # far below the route's own 10 s bound: stop() released it
    assert not thread.is_alive()
    assert outcome and outcome[0] != "answered"
