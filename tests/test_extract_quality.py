"""Extraction that "succeeds" on the wrong text, and languages that pages misdeclare.

Pages are written here and served by the loopback newsroom, fetched by the real client and
extracted by trafilatura: a navigation-only page must not be stored as an ok article, and the
`language` stored must be what the text is written in when `<html lang>` is missing, not a
language code, or contradicted by the text.
"""

from __future__ import annotations

import re

import pytest
from banwatch.ingest.extract import fetch_and_extract, page_language

from banwatch.records import Outcome, ParsedEntry
from tests.support.pages import DEFAULT_PARAGRAPHS, article_page

SECTIONS = (
    "Home", "World news", "Business and markets", "Technology", "Science and environment",
    "Sport results", "Culture and arts", "Opinion", "Travel guides", "Weather forecast",
    "Podcasts and audio", "Newsletters", "Contact the newsroom", "About us", "Careers",
    "Advertise with us", "Privacy settings", "Terms of service", "Accessibility", "Subscribe",
)  # fmt: skip

GERMAN = (
    "Der Gemeinderat hat am Montag beschlossen, das stillgelegte Bahndepot am Stadtrand in "
    "einen öffentlichen Park umzuwandeln, nachdem jahrelang über die Zukunft des Geländes "
    "gestritten worden war.",
    "Die Mehrheit der Ratsmitglieder stimmte nach einer langen Debatte für den Entwurf, bei der "
    "Anwohner aus den benachbarten Straßen sowohl dafür als auch dagegen gesprochen hatten.",
    "Die Räumung des Geländes soll im Sommer beginnen, und der erste Abschnitt des Parks könnte "
    "bis Ende des nächsten Jahres für die Öffentlichkeit zugänglich sein, hieß es aus dem Rathaus.",
)


def _navigation_page() -> str:
    links = "".join(f'<li><a href="/s/{i}">{name}</a></li>' for i, name in enumerate(SECTIONS))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Sections | Loopback Gazette</title></head><body>"
        f"<header><nav><ul>{links}</ul></nav></header>"
        f'<main><div class="sections"><ul>{links}</ul></div></main>'
        f"<footer><ul>{links}</ul></footer></body></html>"
    )


def _without_lang(html: str) -> str:
    return re.sub(r'<html lang="[^"]*">', "<html>", html, count=1)


def _extract(newsroom, http_client, fetch_settings, pages: dict[str, str]) -> dict:
    """Serve each page, fetch and extract it as a feed entry; articles by slug."""
    entries = []
    for slug, html in pages.items():
        url = newsroom.put(f"/quality/{slug}.html", html)
        entries.append(
            ParsedEntry(
                feed_name="gazette",
                url=url,
                link=url,
                title=f"Story {slug}",
                summary=f"The feed's own summary of story {slug}.",
                published_at=None,
            )
        )
    articles, _ = fetch_and_extract(entries, http_client, fetch_settings)
    return {a.url.rsplit("/", 1)[1].removesuffix(".html"): a for a in articles}


def test_a_navigation_only_page_is_soft_and_keeps_the_feed_summary(
    newsroom, http_client, fetch_settings
) -> None:
    found = _extract(
        newsroom,
        http_client,
        fetch_settings,
        {"menu": _navigation_page(), "article": article_page("Council turns depot into park")},
    )
    menu, article = found["menu"], found["article"]
    assert (menu.outcome, menu.reason, menu.extraction) == (
        Outcome.SOFT,
        "navigation_only",
        "feed_summary",
    )
    assert menu.text == "The feed's own summary of story menu."
    # A real article page, with its own nav, related links and footer, is still ok.
    assert (article.outcome, article.reason, article.extraction) == (
        Outcome.OK,
        "ok",
        "trafilatura",
    )
    assert DEFAULT_PARAGRAPHS[1] in article.text


def test_stored_language_follows_the_text_when_the_claim_is_wrong_or_missing(
    newsroom, http_client, fetch_settings
) -> None:
    found = _extract(
        newsroom,
        http_client,
        fetch_settings,
        {
            "not-a-code": article_page("Council turns depot into park", lang="lan"),
            "german-as-english": article_page("Depot wird zum Park", GERMAN, lang="en"),
            "no-lang-en": _without_lang(article_page("Council turns depot into park")),
            "no-lang-de": _without_lang(article_page("Depot wird zum Park", GERMAN)),
            "region": article_page("Council turns depot into park", lang="en-GB"),
            "german": article_page("Depot wird zum Park", GERMAN, lang="de"),
        },
    )
    assert {slug: a.language for slug, a in found.items()} == {
        "not-a-code": "en",
        "german-as-english": "de",
        "no-lang-en": "en",
        "no-lang-de": "de",
        "region": "en",
        "german": "de",
    }
    assert all(a.outcome == Outcome.OK for a in found.values())


@pytest.mark.parametrize(
    ("claim", "text", "expected"),
    [
        ("deu", GERMAN[0], "de"),  # a three-letter code is stored as its two-letter form
        ("xx", GERMAN[0], "de"),  # not a language code: the text decides
        (None, "", None),  # nothing to go on: unknown, not a guess
        ("nl", "OK", "nl"),  # too little text to contradict a valid claim
    ],
)
def test_page_language_rules(claim: str | None, text: str, expected: str | None) -> None:
    assert page_language(claim, text) == expected
