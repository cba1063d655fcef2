"""Polling feeds: conditional GET, broken feeds, HTTP faults, SSRF refusal, canonical URLs.

Every test goes through the loopback newsroom and the real banwatch HTTP client; in fault
tests a healthy feed is polled in the same batch and must still come back OK with its entries.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from pathlib import Path

import pytest
from banwatch.ingest.feeds import fetch_feeds, new_entries
from banwatch.ingest.http import make_client
from banwatch.ingest.urls import article_id, canonical_url

from banwatch.records import FeedSpec, FeedState, Outcome

CASES = Path(__file__).parent / "fixtures" / "feeds"
CASE_FILES = sorted(p for p in CASES.iterdir() if p.suffix in (".xml", ".html"))


def _expectations(path: Path) -> dict[str, str]:
    match = re.search(r"^Expect:(.*)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{path.name}: no 'Expect:' line in its header comment"
    return dict(pair.split("=", 1) for pair in shlex.split(match.group(1)))


@pytest.fixture
def gazette(newsroom, make_item):
    """A healthy outlet in the newsroom, polled beside every fault."""
    newsroom.add(
        [
            make_item("gazette", "depot-park", "Council turns old depot into a park", hours_ago=1),
            make_item("gazette", "ferry", "Ferry timetable changes", hours_ago=3),
        ]
    )
    return FeedSpec("gazette", newsroom.feed_url("gazette"))


def _assert_healthy(result) -> None:
    assert (result.outcome, result.reason, result.status_code) == (Outcome.OK, "ok", 200)
    assert [e.title for e in result.entries] == [
        "Council turns old depot into a park",
        "Ferry timetable changes",
    ]


@pytest.mark.parametrize("case", CASE_FILES, ids=lambda p: p.name)
def test_feed_cases(case: Path, newsroom, http_client, fetch_settings) -> None:
    ctype = "text/html; charset=utf-8" if case.suffix == ".html" else "application/rss+xml"
    url = newsroom.put(f"/cases/{case.name}", case.read_bytes(), ctype)
    (result,) = fetch_feeds([FeedSpec(case.stem, url)], {}, http_client, fetch_settings)
    expect = _expectations(case)
    assert str(result.outcome) == expect.pop("outcome")
    assert result.reason == expect.pop("reason")
    assert len(result.entries) == int(expect.pop("entries"))
    assert (result.error is None) == (result.outcome == Outcome.OK)
    for key, want in expect.items():
        field = {"title0": "title", "url0": "url", "link0": "link", "summary0": "summary"}.get(key)
        entry = result.entries[0]
        if field:
            assert getattr(entry, field) == want.replace("{base}", newsroom.base_url), key
        elif key == "published0":
            got = entry.published_at
            assert (got.isoformat() if got else "None") == want
            assert got is None or got.utcoffset() == dt.timedelta(0)
        elif key == "guid0":
            assert entry.guid == want
        else:
            raise AssertionError(f"{case.name}: unknown expectation {key}")


def test_relative_links_resolve_against_the_feed_url(newsroom, http_client, fetch_settings) -> None:
    case = CASES / "rss_tracking_and_relative_links.xml"
    url = newsroom.put("/cases/tracked.xml", case.read_bytes(), "application/rss+xml")
    (result,) = fetch_feeds([FeedSpec("t", url)], {}, http_client, fetch_settings)
    assert result.entries[1].url == f"{newsroom.base_url}/cases/relative-story.html"


def test_conditional_get_second_poll_is_not_modified(
    newsroom, gazette, make_item, http_client, fetch_settings
) -> None:
    (first,) = fetch_feeds([gazette], {}, http_client, fetch_settings)
    _assert_healthy(first)
    assert first.etag and first.last_modified
    state = FeedState("gazette", etag=first.etag, last_modified=first.last_modified)

    (second,) = fetch_feeds([gazette], {"gazette": state}, http_client, fetch_settings)
    assert (second.outcome, second.reason, second.status_code) == (
        Outcome.NOT_MODIFIED,
        "not_modified",
        304,
    )
    assert second.entries == [] and second.error is None
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)

    newsroom.add([make_item("gazette", "late", "Late edition story")])
    (third,) = fetch_feeds([gazette], {"gazette": state}, http_client, fetch_settings)
    assert third.outcome == Outcome.OK and third.etag != first.etag
    assert third.entries[0].title == "Late edition story"


@pytest.mark.parametrize(
    ("route", "expected", "entries"),
    [
        ("500", (Outcome.TEMPORARY, "http_500", 500), 0),
        ("404", (Outcome.HARD, "http_404", 404), 0),
        ("notfeed", (Outcome.HARD, "not_a_feed", 200), 0),
        ("malformed", (Outcome.SOFT, "bozo", 200), 2),
        ("garbage", (Outcome.HARD, "malformed", 200), 0),
        ("binary", (Outcome.HARD, "not_a_feed", 200), 0),
    ],
)
def test_feed_faults_are_recorded_and_the_batch_goes_on(
    newsroom, gazette, http_client, fetch_settings, *, route, expected, entries
) -> None:
    """`expected` is (outcome, reason, status code) of the broken feed."""
    broken = FeedSpec("broken", newsroom.fault_url(route))
    results = fetch_feeds([broken, gazette], {}, http_client, fetch_settings)
    assert [r.feed_name for r in results] == ["broken", "gazette"]
    bad, good = results
    assert (bad.outcome, bad.reason, bad.status_code) == expected
    assert len(bad.entries) == entries
    assert bad.error  # a human-readable detail goes with every failure
    _assert_healthy(good)


def test_429_is_retried_after_retry_after(newsroom, gazette, http_client, fetch_settings) -> None:
    limited = FeedSpec("limited", newsroom.fault_url("429", "/feed.xml"))
    limited_result, good = fetch_feeds([limited, gazette], {}, http_client, fetch_settings)
    assert (limited_result.outcome, limited_result.status_code) == (Outcome.OK, 200)
    assert len(limited_result.entries) == 1
    assert newsroom.requests.count(("GET", "/fault/429/feed.xml")) == 2
    _assert_healthy(good)


def test_429_without_retries_is_temporary(newsroom, gazette, fetch_settings) -> None:
    settings = fetch_settings.replace(retries=0)
    limited = FeedSpec("limited", newsroom.fault_url("429", "/once.xml"))
    with make_client(settings) as client:
        bad, good = fetch_feeds([limited, gazette], {}, client, settings)
    assert (bad.outcome, bad.reason, bad.status_code) == (Outcome.TEMPORARY, "http_429", 429)
    _assert_healthy(good)


@pytest.mark.parametrize("route", ["slow", "hang"])
def test_slow_or_silent_feed_times_out_as_temporary(newsroom, gazette, fetch_settings, route):
    settings = fetch_settings.replace(timeout=0.3, retries=1, retry_max_wait=0.1)
    slow = FeedSpec("slow", newsroom.fault_url(route, "/feed.xml"))
    with make_client(settings) as client:
        bad, good = fetch_feeds([slow, gazette], {}, client, settings)
    assert (bad.outcome, bad.reason, bad.entries) == (Outcome.TEMPORARY, "timeout", [])
    _assert_healthy(good)


def test_loopback_feeds_are_refused_unless_allowed(newsroom, gazette, fetch_settings) -> None:
    settings = fetch_settings.replace(allowed_hosts=[])
    with make_client(settings) as client:
        (result,) = fetch_feeds([gazette], {}, client, settings)
    assert (result.outcome, result.reason, result.entries) == (Outcome.HARD, "unsafe_url", [])
    assert "fetch.allowed_hosts" in result.error
    assert newsroom.requests == []  # refused before any connection was made


def test_every_redirect_hop_is_checked(newsroom, gazette, fetch_settings) -> None:
    # "localhost" is allowed by name, but it redirects to 127.0.0.1, which is not.
    settings = fetch_settings.replace(allowed_hosts=["localhost"])
    start = newsroom.fault_url("redirect", "/feed.xml").replace("127.0.0.1", "localhost")
    with make_client(settings) as client:
        (result,) = fetch_feeds([FeedSpec("hop", start)], {}, client, settings)
    assert (result.outcome, result.reason) == (Outcome.HARD, "unsafe_url")
    assert newsroom.requests == [("GET", "/fault/redirect/feed.xml")]


def test_redirected_feed_is_followed(newsroom, gazette, http_client, fetch_settings) -> None:
    moved = FeedSpec("moved", newsroom.fault_url("redirect", "/feed.xml"))
    (result,) = fetch_feeds([moved], {}, http_client, fetch_settings)
    assert (result.outcome, len(result.entries)) == (Outcome.OK, 1)


def test_tracking_params_are_stripped_and_shared_articles_deduplicated(
    newsroom, http_client, fetch_settings
) -> None:
    story = "http://wire.example/world/summit.html"
    feed = """<rss version="2.0"><channel><title>{name}</title><link>http://wire.example/</link>
    <description>x</description>
    <item><title>Summit ends with a joint statement</title><link>{link}</link></item>
    <item><title>{other}</title><link>http://wire.example/{slug}.html</link></item>
    </channel></rss>"""
    one = newsroom.put(
        "/one.xml",
        feed.format(
            name="one",
            link=story + "?utm_source=rss&amp;utm_campaign=world",
            other="Rail strike called off",
            slug="rail",
        ),
        "application/rss+xml",
    )
    two = newsroom.put(
        "/two.xml",
        feed.format(
            name="two",
            link=story.replace("http://wire", "HTTP://WIRE") + "#top",
            other="Weather turns colder",
            slug="weather",
        ),
        "application/rss+xml",
    )
    results = fetch_feeds(
        [FeedSpec("one", one), FeedSpec("two", two)], {}, http_client, fetch_settings
    )
    assert all(r.outcome == Outcome.OK for r in results)
    assert results[0].entries[0].url == story
    assert results[0].entries[0].link.endswith("utm_campaign=world")
    assert results[1].entries[0].url == story

    fresh = new_entries(results, known_urls=set())
    assert [e.url for e in fresh] == [
        story,
        "http://wire.example/rail.html",
        "http://wire.example/weather.html",
    ]
    assert fresh[0].feed_name == "one"  # the first feed that listed it wins
    again = new_entries(results, known_urls={story, "http://wire.example/rail.html"})
    assert [e.url for e in again] == ["http://wire.example/weather.html"]


def test_canonical_url_and_article_id() -> None:
    url = "HTTPS://News.Example.org:443/a/b.html?utm_source=x&fbclid=y&page=2#section"
    assert canonical_url(url) == "https://news.example.org/a/b.html?page=2"
    assert article_id(url) == article_id("https://news.example.org/a/b.html?page=2")
    assert re.fullmatch(r"[0-9a-f]{16}", article_id(url))
    assert article_id(url) != article_id("https://news.example.org/a/b.html?page=3")
