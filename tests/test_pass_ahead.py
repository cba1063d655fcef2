"""Work done as each page is extracted gives the same results as doing it after the last page.

`banwatch run` finds each article's detection candidates in the extraction worker that has just
extracted it (`ingest.extract.After`, `enrich.detect.parallel.FindAhead`), and keeps the articles
in memory for the later steps instead of re-reading their staging files. What ends up in the
warehouse (articles, stories, detections, events) must not depend on either.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import time
from pathlib import Path

import duckdb
import pytest
from banwatch.enrich.apps import default_catalogue
from banwatch.enrich.detect.parallel import FindAhead, find_all, find_for, jobs
from banwatch.ingest import extract_pool
from banwatch.ingest.extract import After, fetch_and_extract
from banwatch.ingest.urls import canonical_url

from banwatch import pipeline
from banwatch.config import settings_from_dict
from banwatch.records import ParsedEntry
from tests.support.mailsink import MailSink
from tests.support.newsroom import NewsItem, Newsroom
from tests.support.pages import article_page

START = dt.datetime(2026, 8, 3, 7, tzinfo=dt.UTC)
OUTLETS = ("harbour-post", "plains-herald", "delta-wire")
COUNTRIES = {"plains-herald": "PY"}
PLACES = ("Uruguay", "Malaysia", "Estonia", "Morocco", "Nepal")
APPS = ("Telegram", "TikTok", "Discord")
HEADLINES = (
    "{place} bars {app} from every ministry's phones",
    "Regulators in {place} tell internet providers to cut off {app}",
    "{place} ends its months-long block of {app}",
    "A committee in {place} weighs limits on {app} for civil servants",
    "{app} opens an office in {place} and hires forty staff",
)
BODY = (
    "{title}, a spokesperson for the government of {place} told reporters on Wednesday.",
    "The measure on {app} follows a security audit of messaging tools used by public bodies, "
    "and officials said it would be reviewed in six months.",
    "Opposition members said the audit had not been published and questioned the timing, "
    "while the company said it had not been contacted before the announcement.",
)


def items(count: int) -> list[NewsItem]:
    combos = itertools.islice(itertools.cycle(itertools.product(PLACES, APPS, HEADLINES)), count)
    out = []
    for n, (place, app, headline) in enumerate(combos):
        title = headline.format(place=place, app=app)
        body = [p.format(title=title, place=place, app=app) for p in BODY]
        published = START + dt.timedelta(minutes=20 * n)
        outlet = OUTLETS[n % len(OUTLETS)]
        out.append(
            NewsItem(
                outlet=outlet,
                slug=f"story-{n:03d}",
                title=title,
                summary=body[0],
                published=published,
                html=article_page(title, body, outlet=outlet, published=published),
            )
        )
    return out


def entries(newsroom: Newsroom, news: list[NewsItem]) -> list[ParsedEntry]:
    return [
        ParsedEntry(i.outlet, canonical_url(url), url, i.title, i.summary, i.published)  # fmt: skip
        for i in news
        for url in [newsroom.page_url(i.outlet, i.slug)]
    ]


@pytest.fixture(scope="module")
def pool():
    workers = extract_pool.extract_pool(2)
    if workers is None:
        pytest.skip("this machine cannot start worker processes")
    yield workers
    extract_pool.shutdown()


def test_candidates_found_as_pages_are_extracted_are_those_found_after(
    pool, newsroom, http_client, fetch_settings
) -> None:
    news = items(24)
    newsroom.add(news)
    finding = FindAhead(None, COUNTRIES)
    articles, _ = fetch_and_extract(
        entries(newsroom, news), http_client, fetch_settings, workers=2, after=finding.after
    )
    todo = jobs(articles, COUNTRIES)
    assert set(finding.found) == set(todo)  # every article's, and keyed by what finding reads
    after = find_all(todo, default_catalogue())
    assert [finding.found[job] for job in todo] == after
    assert sum(bool(found) for found in after) >= 10  # the pages do hold candidates


def test_a_failing_follow_up_costs_only_its_result(
    pool, newsroom, http_client, fetch_settings
) -> None:
    """An apps file that is gone: each worker's follow-up fails, the articles all come."""
    news = items(6)
    newsroom.add(news)
    delivered = []
    run = functools.partial(find_for, apps_file="/nonexistent/apps.toml", countries={})
    articles, counts = fetch_and_extract(
        entries(newsroom, news),
        http_client,
        fetch_settings,
        workers=2,
        after=After(run, lambda article, result: delivered.append(article)),
    )
    assert delivered == []
    assert [a.title for a in articles] == [i.title for i in news]
    assert counts["by_reason"] == {"ok": 6}


def warehouse_rows(path: Path) -> dict[str, list[tuple]]:
    queries = {
        "articles": "SELECT article_id, url, title, text, language, outcome, reason, extraction, "
        "story_id, published_at, raw_html_gz FROM articles ORDER BY article_id",
        "stories": "SELECT story_id FROM stories ORDER BY story_id",
        "detections": "SELECT * FROM detections ORDER BY ALL",
        "events": "SELECT country, app, action, scope, source_count, confidence FROM ban_events "
        "ORDER BY ALL",
        "sources": "SELECT event_id, article_id FROM event_sources ORDER BY ALL",
        "embeddings": "SELECT article_id, embedding, signature FROM article_embeddings "
        "ORDER BY article_id",
    }
    with duckdb.connect(str(path), read_only=True) as con:
        return {name: con.execute(sql).fetchall() for name, sql in queries.items()}


def a_pass(tmp: Path, newsroom: Newsroom, port: int, *, ahead: bool) -> dict[str, list[tuple]]:
    settings = settings_from_dict(
        {
            "warehouse": {"path": str(tmp / "bw.duckdb")},
            "staging": {"dir": str(tmp / "staging")},
            "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 5, "extract_workers": 2},
            "detect": {"in_workers": ahead},
            "alerts": {"smtp_host": "127.0.0.1", "smtp_port": port},
            "feeds": [
                {"name": o, "url": newsroom.feed_url(o), **({"country": c} if c else {})}
                for o in OUTLETS
                for c in [COUNTRIES.get(o)]
            ],
        }
    )
    summary = pipeline.run_pass(settings, now=START + dt.timedelta(days=1))
    assert summary.new_articles == 40
    return warehouse_rows(tmp / "bw.duckdb")


def test_a_pass_finding_ahead_stores_what_a_pass_finding_after_stores(tmp_path, pool) -> None:
    with Newsroom() as newsroom, MailSink() as sink:
        newsroom.add(items(40))
        ahead = a_pass(tmp_path / "ahead", newsroom, sink.port, ahead=True)
        after = a_pass(tmp_path / "after", newsroom, sink.port, ahead=False)
    for table, rows in after.items():
        assert ahead[table] == rows, table
    assert len(after["events"]) >= 3 and len(after["detections"]) >= 10


def test_pages_wait_for_the_extraction_workers_not_in_memory(
    pool, newsroom, http_client, fetch_settings
) -> None:
    """While the caller is busy with the first article, at most `concurrency` + 2 x workers
    pages are downloaded ahead (each is held in memory until extracted), not all of them."""
    news = items(40)
    newsroom.add(news)
    served: list[int] = []

    def first_takes_long(article) -> None:
        if not served:  # give the fetch threads every chance to run ahead
            deadline = time.monotonic() + 3
            while len(newsroom.requests) < len(news) and time.monotonic() < deadline:
                time.sleep(0.05)
            served.append(len(newsroom.requests))

    articles, _ = fetch_and_extract(
        entries(newsroom, news), http_client, fetch_settings, workers=2, on_article=first_takes_long
    )
    assert len(articles) == len(news)
    assert served[0] <= 1 + fetch_settings.concurrency + 2 * 2
