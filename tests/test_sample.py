"""The sample corpus the demo serves: it loads from the package, renders, and extracts cleanly.

Also the two integrity checks the end-to-end tests stand on: every slug of the answer key
(`tests/support/expected.toml`) exists, and every article is either a source or a negative.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from html import unescape
from pathlib import Path

import pytest

from banwatch.sample import load_articles, load_outlets, load_sample, render_page
from banwatch.sample.newsroom import NewsItem
from tests.support.sample import golden_extract, load_expected, read_expected

NOW = dt.datetime(2026, 3, 16, 12, 0, tzinfo=dt.UTC)
GOLDEN = Path(__file__).parent / "fixtures" / "golden"

# Boilerplate each outlet's template carries; none of it may reach the extracted text.
BOILERPLATE = {
    "harbour-herald": [
        "We use cookies to personalise content",
        "Crosswords and puzzles",
        "Subscribe from",
        "Join the conversation",
        "Comments are moderated",
        "Write your comment here",
        "Share on Facebook",
        "Registered in England and Wales",
    ],
    "northgate-daily": [
        "This site uses cookies",
        "Family notices",
        "Get the Morning Briefing",
        "Sign up to our free newsletter",
        "Read next",
        "Advertisement",
        "sunny spells",
        "Northgate Media Group",
    ],
    "capital-wire": [
        "use cookies and similar technologies",
        "Most read",
        "Brent crude",
        "Planning for retirement",
        "cloud accounting",
        "The five business stories you need",
        "independent business news service",
    ],
    "meridian-post": [
        "Your privacy matters to us",
        "Podcasts",
        "Gift this article",
        "Editor's picks",
        "Leave a Reply",
        "Please enter your comment",
        "Independent journalism since 1911",
    ],
    "ostalpen-kurier": [
        "Wir verwenden Cookies",
        "Startseite",
        "Digital-Abo",
        "Newsletter abonnieren",
        "Das könnte Sie auch interessieren",
        "Leserkommentare",
        "Forenregeln",
        "Impressum",
    ],
}

NEGATIVE_LABELS = {
    "not_ban_app_news",
    "company_ban",
    "other_ban",
    "opinion_or_call",
    "platform_action",
    "not_app_news",
}


@pytest.fixture(scope="module")
def items() -> list[NewsItem]:
    return load_sample(max_phase=3, now=NOW)


@pytest.fixture(scope="module")
def extracted(items) -> dict[str, dict]:
    return {item.slug: golden_extract(item.html) for item in items}


# ---------------------------------------------------------------- the corpus loads


def test_corpus_has_five_outlets_in_two_languages_and_both_feed_formats(items) -> None:
    assert len(load_outlets()) == 5
    assert 20 <= len(items) <= 40
    assert {item.outlet for item in items} == set(load_outlets())
    assert {item.feed_format for item in items} == {"rss", "atom"}
    languages = {o.language.split("-")[0] for o in load_outlets().values()}
    assert "de" in languages and "en" in languages
    slugs = [item.slug for item in items]
    assert len(slugs) == len(set(slugs))


def test_items_are_news_items_newest_first_and_in_the_past(items) -> None:
    assert all(isinstance(item, NewsItem) for item in items)
    assert all(NOW - dt.timedelta(days=5) < item.published <= NOW for item in items)
    times = [item.published for item in items]
    assert times == sorted(times, reverse=True)
    formats = {name: o.feed_format for name, o in load_outlets().items()}
    assert all(item.feed_format == formats[item.outlet] for item in items)


def test_publication_times_follow_now() -> None:
    later = NOW + dt.timedelta(days=30)
    a = {i.slug: i.published for i in load_sample(1, now=NOW)}
    b = {i.slug: i.published for i in load_sample(1, now=later)}
    assert all(b[slug] - a[slug] == dt.timedelta(days=30) for slug in a)


def test_without_now_the_corpus_is_todays_news() -> None:
    """now=None anchors the corpus at the current time, whatever the clock says."""
    newest = max(a.offset_hours for a in load_articles() if a.phase == 1)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    items = load_sample(1)
    after = dt.datetime.now(dt.UTC)
    shifted = dt.timedelta(hours=newest)
    assert before + shifted <= max(i.published for i in items) <= after + shifted


def test_phases_only_add_items() -> None:
    by_phase = {p: {i.slug: i for i in load_sample(p, now=NOW)} for p in (1, 2, 3)}
    assert set(by_phase[1]) < set(by_phase[2]) < set(by_phase[3])
    # A page renders the same whichever phase is served (feeds change, pages do not).
    assert all(by_phase[3][slug] == item for slug, item in by_phase[1].items())


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="max_phase"):
        load_sample(max_phase=4, now=NOW)
    with pytest.raises(ValueError, match="timezone"):
        load_sample(now=dt.datetime(2026, 3, 16, 12))


# ---------------------------------------------------------------- every template renders


@pytest.mark.parametrize("outlet", sorted(load_outlets()))
def test_every_template_renders_a_full_page(outlet: str) -> None:
    article = next(a for a in load_articles() if a.outlet == outlet)
    page = render_page(article, NOW)
    language = load_outlets()[outlet].language
    assert page.lstrip().startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in page
    text = unescape(page)
    assert article.title in text and article.summary in text
    for paragraph in article.paragraphs:
        assert paragraph.removeprefix("## ") in text
    for phrase in BOILERPLATE[outlet]:
        assert phrase in text  # the boilerplate is there to be removed


def test_meridian_post_pages_carry_json_ld_metadata() -> None:
    article = next(a for a in load_articles() if a.outlet == "meridian-post")
    page = render_page(article, NOW)
    start = page.index('<script type="application/ld+json">') + len(
        '<script type="application/ld+json">'
    )
    data = json.loads(page[start : page.index("</script>", start)])
    assert data["@type"] == "NewsArticle"
    assert data["headline"] == article.title
    assert dt.datetime.fromisoformat(data["datePublished"]) == article.published(NOW)


# ---------------------------------------------------------------- the answer key


def test_every_slug_in_the_answer_key_exists() -> None:
    raw = read_expected()
    slugs = {a.slug for a in load_articles()}
    named = [s for e in raw["events"] for s in e["sources"]]
    named += [s for st in raw["stories"] for s in st["slugs"] + st.get("follow_ups", [])]
    named += [n["slug"] for n in raw["negatives"]]
    named += [s for b in raw["background"] for s in b["slugs"]]
    assert sorted(set(named) - slugs) == []


def test_every_article_is_either_an_event_source_or_a_negative() -> None:
    expected = load_expected(3, now=NOW)
    sources = {s for e in expected.events for s in e.sources}
    negatives = set(expected.negatives)
    assert sources.isdisjoint(negatives)
    assert sources | negatives == {a.slug for a in load_articles()}
    assert set(expected.negatives.values()) <= NEGATIVE_LABELS


# ---------------------------------------------------------------- extraction


@pytest.mark.parametrize("outlet", sorted(load_outlets()))
def test_golden_page_still_extracts_to_its_json(outlet: str) -> None:
    html = gzip.decompress((GOLDEN / f"{outlet}.html.gz").read_bytes()).decode("utf-8")
    want = json.loads((GOLDEN / f"{outlet}.json").read_text(encoding="utf-8"))
    got = golden_extract(html)
    hint = "extraction changed: review, then run scripts/regenerate_golden.py"
    assert got["text"] == want["text"], hint
    assert {k: got[k] for k in ("title", "date", "language", "sitename")} == {
        k: want[k] for k in ("title", "date", "language", "sitename")
    }, hint
    for phrase in BOILERPLATE[outlet]:
        assert phrase not in got["text"]


def test_every_page_extracts_its_body_without_boilerplate(items, extracted) -> None:
    articles = {a.slug: a for a in load_articles()}
    others = {a.title for a in load_articles()}
    evergreen = {t for o in load_outlets().values() for t in o.evergreen}
    for item in items:
        text = extracted[item.slug]["text"]
        article = articles[item.slug]
        for paragraph in article.paragraphs:
            if not paragraph.startswith("## "):
                assert paragraph in text, (item.slug, paragraph[:40])
        for phrase in BOILERPLATE[item.outlet]:
            assert phrase not in text, (item.slug, phrase)
        # Related-link headlines (other stories) must not leak in: detection would read them.
        for title in (others - {article.title}) | evergreen:
            assert title not in text, (item.slug, title)


def test_metadata_is_extracted_from_every_page(items, extracted) -> None:
    for item in items:
        meta = extracted[item.slug]
        assert meta["title"] == item.title, item.slug
        assert meta["date"] == item.published.date().isoformat(), item.slug
        assert meta["language"] == load_outlets()[item.outlet].language.split("-")[0].lower()
