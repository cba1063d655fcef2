"""Fetching article pages: faults are recorded per page and the rest of the batch succeeds.

Pages come from the loopback newsroom through the real banwatch HTTP client.
"""

from __future__ import annotations

import pytest
from banwatch.ingest.fetch import decode_html, fetch_articles
from banwatch.ingest.http import make_client
from banwatch.ingest.urls import canonical_url

from banwatch.records import Outcome, ParsedEntry


def entry(url: str, title: str = "A story") -> ParsedEntry:
    return ParsedEntry("test", canonical_url(url), url, title, f"Summary of {title}", None)


@pytest.fixture
def good(newsroom, make_item) -> ParsedEntry:
    """A healthy page fetched beside every fault."""
    newsroom.add([make_item("gazette", "depot-park", "Council turns old depot into a park")])
    return entry(newsroom.page_url("gazette", "depot-park"), "Council turns old depot into a park")


def _assert_healthy(page) -> None:
    assert (page.outcome, page.reason, page.status_code) == (Outcome.OK, "ok", 200)
    assert "old railway depot" in page.html


@pytest.mark.parametrize(
    ("route", "outcome", "reason", "status"),
    [
        ("500", Outcome.TEMPORARY, "http_500", 500),
        ("404", Outcome.HARD, "http_404", 404),
        ("binary", Outcome.HARD, "not_html", 200),
    ],
)
def test_page_faults_are_recorded_and_the_batch_goes_on(
    newsroom, good, http_client, fetch_settings, *, route, outcome, reason, status
) -> None:
    pages = fetch_articles([entry(newsroom.fault_url(route)), good], http_client, fetch_settings)
    bad, ok = pages
    assert (bad.outcome, bad.reason, bad.status_code) == (outcome, reason, status)
    assert bad.html is None and bad.error
    _assert_healthy(ok)


def test_binary_page_is_refused_before_its_body_is_read(
    newsroom, good, http_client, fetch_settings
):
    bad, ok = fetch_articles(
        [entry(newsroom.fault_url("binary")), good], http_client, fetch_settings
    )
    assert bad.raw is None and "application/pdf" in bad.error
    _assert_healthy(ok)


def test_huge_page_is_aborted_as_too_large(newsroom, good, http_client, fetch_settings) -> None:
    bad, ok = fetch_articles([entry(newsroom.fault_url("huge")), good], http_client, fetch_settings)
    assert (bad.outcome, bad.reason, bad.raw) == (Outcome.HARD, "too_large", None)
    assert str(fetch_settings.max_bytes) in bad.error
    _assert_healthy(ok)


def test_429_page_is_retried(newsroom, good, http_client, fetch_settings) -> None:
    limited, ok = fetch_articles(
        [entry(newsroom.fault_url("429", "/story.html")), good], http_client, fetch_settings
    )
    assert (limited.outcome, limited.status_code) == (Outcome.OK, 200)
    assert "Night buses" in limited.html
    assert newsroom.requests.count(("GET", "/fault/429/story.html")) == 2
    _assert_healthy(ok)


def test_slow_page_times_out_as_temporary(newsroom, good, fetch_settings) -> None:
    settings = fetch_settings.replace(timeout=0.3, retries=0)
    with make_client(settings) as client:
        bad, ok = fetch_articles([entry(newsroom.fault_url("slow")), good], client, settings)
    assert (bad.outcome, bad.reason, bad.html) == (Outcome.TEMPORARY, "timeout", None)
    _assert_healthy(ok)


def test_redirect_is_followed(newsroom, good, http_client, fetch_settings) -> None:
    target = "/gazette/depot-park.html"
    moved, ok = fetch_articles(
        [entry(newsroom.fault_url("redirect") + f"?to={target}"), good], http_client, fetch_settings
    )
    assert moved.outcome == Outcome.OK
    assert moved.final_url == newsroom.base_url + target
    _assert_healthy(moved)
    _assert_healthy(ok)


def test_latin1_page_is_decoded_with_its_declared_charset(
    newsroom, good, http_client, fetch_settings
) -> None:
    page, ok = fetch_articles(
        [entry(newsroom.fault_url("latin1")), good], http_client, fetch_settings
    )
    assert page.outcome == Outcome.OK
    assert "Le musée rouvre ses portes" in page.html
    assert "réouverture" in page.html and "Ã" not in page.html
    _assert_healthy(ok)


def test_loopback_pages_are_refused_unless_allowed(newsroom, good, fetch_settings) -> None:
    settings = fetch_settings.replace(allowed_hosts=[])
    with make_client(settings) as client:
        (page,) = fetch_articles([good], client, settings)
    assert (page.outcome, page.reason, page.html) == (Outcome.HARD, "unsafe_url", None)
    assert newsroom.requests == []


def test_pages_come_back_in_entry_order(newsroom, make_item, http_client, fetch_settings) -> None:
    newsroom.add([make_item("gazette", f"s{i}", f"Story {i}") for i in range(10)])
    entries = [entry(newsroom.page_url("gazette", f"s{i}"), f"Story {i}") for i in range(10)]
    pages = fetch_articles(entries, http_client, fetch_settings)
    assert [p.entry.title for p in pages] == [f"Story {i}" for i in range(10)]
    assert all(p.outcome == Outcome.OK for p in pages)


def test_decode_uses_meta_charset_when_the_header_has_none() -> None:
    html = (
        '<html><head><meta charset="windows-1252"></head><body>Zürich café – “quotes”</body></html>'
    )
    assert "Zürich café – “quotes”" in decode_html(html.encode("cp1252"), "text/html")


def test_decode_header_charset_wins_over_meta() -> None:
    html = '<html><head><meta charset="utf-8"></head><body>Málaga</body></html>'
    assert "Málaga" in decode_html(html.encode("latin-1"), "text/html; charset=iso-8859-1")


def test_decode_without_any_declaration_detects_utf8() -> None:
    html = "<html><body><p>Kraków’s councillors voted on Tuesday.</p></body></html>"
    assert "Kraków’s" in decode_html(html.encode("utf-8"), None)


def test_decode_byte_order_mark_wins_over_a_wrong_header() -> None:
    html = "<html><body><p>Gdańsk’s port reopened.</p></body></html>"
    body = b"\xef\xbb\xbf" + html.encode("utf-8")
    assert decode_html(body, "text/html; charset=iso-8859-1").startswith("<html><body><p>Gdańsk’s")


def test_decode_undeclared_legacy_page_is_detected() -> None:
    html = "<html><body><p>Die Behörde prüft die Größe der Anlage in Düsseldorf.</p></body></html>"
    assert "Behörde prüft die Größe" in decode_html(html.encode("cp1252"), "text/html")
