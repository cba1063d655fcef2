"""The loopback newsroom serves valid feeds and pages, conditional GETs, and fault routes."""

from __future__ import annotations

import threading

import feedparser
import httpx
import pytest

from banwatch.newsroom import Newsroom


@pytest.fixture
def client() -> httpx.Client:
    with httpx.Client(timeout=5) as c:
        yield c


def test_rss_and_atom_feeds_list_items_newest_first(newsroom, make_item, client) -> None:
    newsroom.add(
        [
            make_item("gazette", "older", "Older story", hours_ago=5),
            make_item("gazette", "newer", "Newer story", hours_ago=1),
            make_item("herald", "only", "Atom story", feed_format="atom"),
        ]
    )
    assert newsroom.outlets == ["gazette", "herald"]
    rss = feedparser.parse(client.get(newsroom.feed_url("gazette")).content)
    atom = feedparser.parse(client.get(newsroom.feed_url("herald")).content)
    assert (rss.bozo, rss.version, atom.bozo, atom.version) == (False, "rss20", False, "atom10")
    assert [e.title for e in rss.entries] == ["Newer story", "Older story"]
    assert atom.entries[0].title == "Atom story"
    for entry in [*rss.entries, *atom.entries]:
        assert entry.link.startswith(newsroom.base_url + "/")
        assert entry.published_parsed is not None


def test_some_feed_links_carry_tracking_params(newsroom, make_item, client) -> None:
    newsroom.add([make_item("gazette", f"story-{i}", f"Story {i}") for i in range(8)])
    feed = feedparser.parse(client.get(newsroom.feed_url("gazette")).content)
    tracked = [e.link for e in feed.entries if "utm_source=rss" in e.link]
    assert 0 < len(tracked) < len(feed.entries)


def test_pages_are_utf8_html(newsroom, make_item, client) -> None:
    newsroom.add([make_item("gazette", "cafe", "Café owners welcome the plan")])
    response = client.get(newsroom.page_url("gazette", "cafe"))
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "Café owners welcome the plan" in response.text
    assert client.get(newsroom.page_url("gazette", "missing")).status_code == 404


def test_conditional_get_answers_304_until_the_feed_changes(newsroom, make_item, client) -> None:
    newsroom.add([make_item("gazette", "first", "First story", hours_ago=2)])
    first = client.get(newsroom.feed_url("gazette"))
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert (
        client.get(newsroom.feed_url("gazette"), headers={"If-None-Match": etag}).status_code == 304
    )
    assert (
        client.get(
            newsroom.feed_url("gazette"), headers={"If-Modified-Since": modified}
        ).status_code
        == 304
    )
    newsroom.add([make_item("gazette", "second", "Second story", hours_ago=1)])
    again = client.get(newsroom.feed_url("gazette"), headers={"If-None-Match": etag})
    assert again.status_code == 200
    assert [e.title for e in feedparser.parse(again.content).entries] == [
        "Second story",
        "First story",
    ]


def test_request_log_records_method_and_path(newsroom, make_item, client) -> None:
    newsroom.add([make_item("gazette", "a", "A")])
    client.get(newsroom.feed_url("gazette"))
    client.head(newsroom.page_url("gazette", "a"))
    assert newsroom.requests == [("GET", "/gazette/feed.xml"), ("HEAD", "/gazette/a.html")]


@pytest.mark.parametrize(
    ("kind", "status", "content_type"),
    [
        ("500", 500, "text/html"),
        ("404", 404, "text/html"),
        ("binary", 200, "application/pdf"),
        ("notfeed", 200, "text/html"),
        ("malformed", 200, "application/rss+xml"),
    ],
)
def test_simple_fault_routes(newsroom, client, kind, status, content_type) -> None:
    response = client.get(newsroom.fault_url(kind))
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)


def test_429_then_success_per_path(newsroom, client) -> None:
    url = newsroom.fault_url("429", "/story.html")
    first = client.get(url)
    assert (first.status_code, first.headers["retry-after"]) == (429, "1")
    assert client.get(url).status_code == 200
    assert client.get(newsroom.fault_url("429", "/feed.xml")).status_code == 429  # own counter
    feed = client.get(newsroom.fault_url("429", "/feed.xml"))
    assert feedparser.parse(feed.content).entries


def test_redirect_leads_to_a_page(newsroom, client) -> None:
    response = client.get(newsroom.fault_url("redirect"))
    assert response.status_code == 302
    followed = client.get(newsroom.fault_url("redirect"), follow_redirects=True)
    assert followed.status_code == 200 and "Night buses" in followed.text


def test_latin1_page_is_declared_and_encoded_as_latin1(newsroom, client) -> None:
    response = client.get(newsroom.fault_url("latin1"))
    assert response.headers["content-type"] == "text/html; charset=ISO-8859-1"
    assert "musée".encode("iso-8859-1") in response.content
    assert "musée" in response.text


def test_slow_route_exceeds_a_short_timeout(newsroom, client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get(newsroom.fault_url("slow"), timeout=0.3)


def test_huge_route_streams_more_than_20_mb(newsroom, client) -> None:
    received = 0
    with client.stream("GET", newsroom.fault_url("huge")) as response:
        assert "content-length" not in response.headers
        for chunk in response.iter_bytes():
            received += len(chunk)
            if received > 3_000_000:
                break  # the client hangs up; the server notices and stops writing
    assert received > 3_000_000
    assert client.get(newsroom.fault_url("ok")).status_code == 200  # server still serves


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
    while not any(path == "/fault/hang" for _, path in nr.requests):
        thread.join(0.01)
    nr.stop()
    thread.join(8)  # far below the route's own 10 s bound: stop() released it
    assert not thread.is_alive()
    assert outcome and outcome[0] != "answered"
