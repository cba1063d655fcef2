"""Shared test fixtures: a loopback newsroom, article pages with boilerplate, fetch settings.

Everything here talks to real components on 127.0.0.1; nothing reaches the internet.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence

import pytest

from banwatch.config import FetchSettings
from tests.support.factories import NOW
from tests.support.newsroom import NewsItem, Newsroom
from tests.support.pages import DEFAULT_PARAGRAPHS, article_page


@pytest.fixture(autouse=True)
def preserve_environ() -> Iterator[None]:
    """Restore os.environ after every test."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def make_item() -> Callable[..., NewsItem]:
    """Factory: `make_item(outlet, slug, title, paragraphs=..., hours_ago=0, feed_format="rss")`."""

    def make(
        outlet: str,
        slug: str,
        title: str = "Council turns old depot into a park",
        paragraphs: Sequence[str] = DEFAULT_PARAGRAPHS,
        *,
        summary: str | None = None,
        hours_ago: float = 0,
        feed_format: str = "rss",
        lang: str = "en",
    ) -> NewsItem:
        published = NOW - dt.timedelta(hours=hours_ago)
        return NewsItem(
            outlet=outlet,
            slug=slug,
            title=title,
            summary=summary if summary is not None else paragraphs[0],
            published=published,
            html=article_page(title, paragraphs, outlet=outlet, published=published, lang=lang),
            feed_format=feed_format,
        )

    return make


@pytest.fixture
def con(tmp_path) -> Iterator:
    """A real warehouse file in tmp_path, closed after the test."""
    from banwatch.warehouse import store

    connection = store.connect(tmp_path / "banwatch.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def sink() -> Iterator:
    """A loopback SMTP server (aiosmtpd) that keeps what it receives."""
    from tests.support.mailsink import MailSink

    with MailSink() as running:
        yield running


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    """A started, empty newsroom on 127.0.0.1; add items with `newsroom.add([...])`."""
    with Newsroom() as nr:
        yield nr


@pytest.fixture
def fetch_settings() -> FetchSettings:
    """Fetch settings for loopback tests: 127.0.0.1 allowed, short timeout and retry waits."""
    return FetchSettings(
        allowed_hosts=["127.0.0.1"],
        timeout=2.0,
        max_bytes=2_000_000,
        concurrency=4,
        retries=2,
        retry_max_wait=2.0,
    )


@pytest.fixture
def http_client(fetch_settings: FetchSettings) -> Iterator:
    """The banwatch HTTP client built from `fetch_settings`."""
    from banwatch.ingest.http import make_client

    with make_client(fetch_settings) as client:
        yield client
