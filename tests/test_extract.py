"""Text extraction: main text without boilerplate, metadata, and the feed-summary fallback."""

from __future__ import annotations

import datetime as dt
import gzip

from banwatch.ingest.extract import extract_articles, extract_page, fetch_and_extract
from banwatch.ingest.fetch import fetch_articles
from banwatch.ingest.urls import article_id, canonical_url

from banwatch.records import Outcome, ParsedEntry

FEED_TIME = dt.datetime(2026, 3, 16, 9, 45, tzinfo=dt.UTC)

GERMAN = (
    "Die Stadtverwaltung hat am Montag beschlossen, das alte Straßenbahndepot in einen "
    "öffentlichen Park umzuwandeln, nachdem jahrelang über die Zukunft des Geländes gestritten "
    "worden war.",
    "Die Arbeiten sollen im Sommer beginnen, und der erste Abschnitt des Parks könnte Ende "
    "nächsten Jahres für die Öffentlichkeit geöffnet werden, teilten Beamte mit.",
)


def entry(url: str, title: str, summary: str = "", published: dt.datetime | None = None):
    return ParsedEntry("gazette", canonical_url(url), url, title, summary, published)


def test_extraction_keeps_the_article_and_drops_boilerplate(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    newsroom.add([make_item("gazette", "depot-park", "Council turns old depot into a park")])
    url = newsroom.page_url("gazette", "depot-park") + "?utm_source=rss"
    (article,) = extract_articles(
        fetch_articles(
            [entry(url, "Council turns old depot into a park", "Short summary")],
            http_client,
            fetch_settings,
        )
    )
    assert (article.outcome, article.reason, article.extraction) == (
        Outcome.OK,
        "ok",
        "trafilatura",
    )
    assert article.text.startswith("The city council voted on Monday")
    assert "weekend market that will be given a new home nearby." in article.text
    for boilerplate in (
        "cookies",  # cookie banner
        "Technology",  # navigation
        "Weather warning",  # related links
        "Reader comment",  # comments
        "Post comment",
        "newsletter",  # footer
        "All rights reserved",
    ):
        assert boilerplate not in article.text, boilerplate
    assert not article.text.startswith("Council turns old depot")  # headline not repeated
    assert article.url == newsroom.page_url("gazette", "depot-park")  # canonical
    assert article.article_id == article_id(url)
    assert (article.title, article.site_name, article.language) == (
        "Council turns old depot into a park",
        "Gazette",  # og:site_name, as trafilatura capitalises it
        "en",
    )
    assert gzip.decompress(article.raw_html_gz).decode() == newsroom.items[0].html


def test_published_date_prefers_the_feed_then_the_page(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    newsroom.add([make_item("gazette", "a", "Story A", hours_ago=30)])
    url = newsroom.page_url("gazette", "a")
    dated, undated = extract_articles(
        fetch_articles(
            [entry(url, "Story A", published=FEED_TIME), entry(url + "?v=2", "Story A")],
            http_client,
            fetch_settings,
        )
    )
    assert dated.published_at == FEED_TIME
    # No date in the feed: trafilatura's date from the page (published 30 hours before NOW).
    assert undated.published_at == dt.datetime(2026, 3, 15, tzinfo=dt.UTC)


def test_too_little_text_falls_back_to_the_feed_summary(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    newsroom.add([make_item("gazette", "stub", "Video: the new park", ["Watch the video."])])
    newsroom.add([make_item("gazette", "full", "Council turns old depot into a park")])
    summary = "The council approves a park on the old depot site."
    stub, full = extract_articles(
        fetch_articles(
            [
                entry(newsroom.page_url("gazette", "stub"), "Video: the new park", summary),
                entry(newsroom.page_url("gazette", "full"), "Council turns old depot into a park"),
            ],
            http_client,
            fetch_settings,
        )
    )
    assert (stub.outcome, stub.reason, stub.extraction) == (
        Outcome.SOFT,
        "extraction_failed",
        "feed_summary",
    )
    assert (stub.title, stub.text) == ("Video: the new park", summary)
    assert stub.raw_html_gz is not None  # kept for re-processing with a better extractor
    assert (full.outcome, full.extraction) == (Outcome.OK, "trafilatura")


def test_failed_fetches_fall_back_to_the_summary_with_their_outcome(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    newsroom.add([make_item("gazette", "ok", "Council turns old depot into a park")])
    entries = [
        entry(newsroom.fault_url("404"), "Gone story", "Summary of the gone story"),
        entry(newsroom.fault_url("binary"), "Report PDF", "Summary of the report"),
        entry(newsroom.fault_url("huge"), "Huge page", "Summary of the huge page"),
        entry(newsroom.page_url("gazette", "ok"), "Council turns old depot into a park"),
    ]
    articles, counts = fetch_and_extract(entries, http_client, fetch_settings)
    assert [(a.outcome, a.reason, a.extraction) for a in articles] == [
        (Outcome.HARD, "http_404", "feed_summary"),
        (Outcome.HARD, "not_html", "feed_summary"),
        (Outcome.HARD, "too_large", "feed_summary"),
        (Outcome.OK, "ok", "trafilatura"),
    ]
    assert [a.text for a in articles[:3]] == [
        "Summary of the gone story",
        "Summary of the report",
        "Summary of the huge page",
    ]
    assert all(a.error for a in articles[:3]) and articles[3].error is None
    assert counts == {
        "articles": 4,
        "by_outcome": {"hard": 3, "ok": 1},
        "by_reason": {"http_404": 1, "not_html": 1, "too_large": 1, "ok": 1},
    }


def test_latin1_page_extracts_accented_words(newsroom, http_client, fetch_settings) -> None:
    (article,), _ = fetch_and_extract(
        [entry(newsroom.fault_url("latin1"), "Le musée rouvre ses portes")],
        http_client,
        fetch_settings,
    )
    assert article.outcome == Outcome.OK
    assert "Le ministère de la Culture a annoncé jeudi la réouverture du musée" in article.text
    assert article.language == "fr"


def test_extraction_workers_decode_pages_by_their_charset(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    """Pages go to the extraction processes undecoded: the charset still decides the text."""
    newsroom.add([make_item("gazette", "depot", "Altes Depot wird zum Park", GERMAN, lang="de")])
    entries = [
        entry(newsroom.fault_url("latin1"), "Le musée rouvre ses portes"),
        entry(newsroom.page_url("gazette", "depot"), "Altes Depot wird zum Park"),
        entry(newsroom.page_url("gazette", "missing"), "Gone", summary="Only the summary"),
    ]
    here, _ = fetch_and_extract(entries, http_client, fetch_settings, workers=1)
    there, _ = fetch_and_extract(entries, http_client, fetch_settings, workers=2)
    assert [(a.text, a.language, a.outcome, a.raw_html_gz) for a in there] == [
        (a.text, a.language, a.outcome, a.raw_html_gz) for a in here
    ]
    assert "la réouverture du musée" in there[0].text and there[0].language == "fr"
    assert "Straßenbahndepot in einen öffentlichen Park" in there[1].text
    assert (there[2].outcome, there[2].text) == (Outcome.HARD, "Only the summary")


def test_fetch_and_extract_keeps_entry_order_under_concurrency(
    newsroom, make_item, http_client, fetch_settings
) -> None:
    newsroom.add([make_item("gazette", f"s{i}", f"Story number {i}") for i in range(12)])
    entries = [entry(newsroom.page_url("gazette", f"s{i}"), f"Story number {i}") for i in range(12)]
    settings = fetch_settings.replace(concurrency=3)
    articles, counts = fetch_and_extract(entries, http_client, settings)
    assert [a.title for a in articles] == [f"Story number {i}" for i in range(12)]
    assert counts["by_outcome"] == {"ok": 12}


def test_extract_page_reports_language_and_metadata(make_item) -> None:
    item = make_item("Tagesblatt", "park", "Altes Depot wird zum Park", GERMAN, lang="de")
    found = extract_page(item.html, "https://tagesblatt.example/park.html")
    assert found["title"] == "Altes Depot wird zum Park"
    assert found["language"] == "de" and found["sitename"] == "Tagesblatt"
    assert found["date"] == "2026-03-16"
    assert "Straßenbahndepot" in found["text"] and "cookies" not in found["text"]


def test_extract_page_on_an_empty_document_is_none() -> None:
    assert extract_page("<html><body></body></html>") is None


def test_site_name_is_none_when_the_page_names_no_outlet(
    newsroom, http_client, fetch_settings
) -> None:
    # The fault page has no og:site_name: trafilatura would echo the host, which on loopback
    # every outlet shares; None lets the pipeline fall back to the feed's name.
    (article,), _ = fetch_and_extract(
        [entry(newsroom.fault_url("ok", "/story.html"), "Night buses")], http_client, fetch_settings
    )
    assert article.outcome == Outcome.OK and article.site_name is None
