"""Candidate finding in the extraction workers gives the same detections as in one process.

`banwatch run` hands detection to its extraction worker processes once they are idle
(`enrich.detect.parallel`); what users see (events, confidences, evidence) must not depend on
where the candidates were found, and a dead pool must cost only time.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from banwatch.enrich.detect import detect_ban_events
from banwatch.enrich.detect.parallel import MIN_ARTICLES
from banwatch.ingest import extract_pool

from banwatch.records import Article

START = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
PLACES = ("Latvia", "Chile", "Kenya", "Portugal", "Vietnam", "Iceland", "Ghana", "Peru")
APPS = ("Telegram", "TikTok", "WeChat", "Signal")
STEPS = (
    "{place} bans {app} on all government-issued phones",
    "{place} orders telecoms to block {app} nationwide",
    "{place} lifts its block on {app} after talks with the company",
    "Lawmakers in {place} propose removing {app} from state devices",
    "{app} launches a new sticker pack for users in {place}",
)


def articles(count: int) -> list[Article]:
    combos = itertools.islice(itertools.cycle(itertools.product(PLACES, APPS, STEPS)), count)
    out = []
    for n, (place, app, step) in enumerate(combos):
        title = step.format(place=place, app=app)
        text = (
            f"{title}, officials in {place} said on Tuesday. The decision on {app} was "
            "announced after a review by the interior ministry. Critics said the move was "
            "rushed and asked for the security report to be published."
        )
        out.append(
            Article(
                article_id=f"p{n:03d}",
                url=f"https://news.example/p{n:03d}",
                feed_name="wire" if n % 3 else "ghana-daily",
                title=title,
                text=text,
                published_at=START + dt.timedelta(hours=n),
                language="en",
            )
        )
    return out


@pytest.fixture(scope="module")
def pool():
    workers = extract_pool.extract_pool(2)
    if workers is None:
        pytest.skip("this machine cannot start worker processes")
    yield workers
    extract_pool.shutdown()


def test_workers_find_what_one_process_finds(pool) -> None:
    batch = articles(3 * MIN_ARTICLES)
    countries = {"ghana-daily": "GH"}
    here, here_counts = detect_ban_events(batch, feed_countries=countries)
    there, there_counts = detect_ban_events(batch, feed_countries=countries, pool=pool)
    assert there == here and there_counts == here_counts
    assert sum(not d.background for d in here) >= 10  # the batch does hold events


def test_a_small_batch_stays_in_this_process(pool) -> None:
    batch = articles(MIN_ARTICLES - 1)
    assert detect_ban_events(batch, pool=pool) == detect_ban_events(batch)


def test_a_pool_that_was_shut_down_costs_only_time() -> None:
    workers = extract_pool.extract_pool(2)
    if workers is None:
        pytest.skip("this machine cannot start worker processes")
    extract_pool.shutdown()  # `workers` is now a closed pool
    batch = articles(2 * MIN_ARTICLES)
    assert detect_ban_events(batch, pool=workers) == detect_ban_events(batch)
