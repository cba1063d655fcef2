"""Shared test fixtures: a loopback newsroom, article pages with boilerplate, fetch settings.

Everything here talks to real components on 127.0.0.1; nothing reaches the internet.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator, Sequence
from html import escape

import pytest

from banwatch.config import FetchSettings
from tests.support.factories import NOW
from tests.support.factories import make_detection as make_detection  # for `from conftest import`
from tests.support.newsroom import NewsItem, Newsroom

PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<title>{title} | {outlet}</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="{outlet}">
<meta property="article:published_time" content="{published}">
</head>
<body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
Accept all cookies or manage your preferences. <button>Accept</button></div>
<header><nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/business">Business</a></li><li><a href="/technology">Technology</a></li>
<li><a href="/sport">Sport</a></li></ul></nav></header>
<main>
<article>
<h1>{title}</h1>
<p class="byline">By a staff reporter, <time datetime="{published}">{published_words}</time></p>
{paragraphs}
</article>
<aside class="related"><h2>Related stories</h2><ul>
<li><a href="/a">Weather warning issued for the weekend</a></li>
<li><a href="/b">Local team reaches the cup semi-final</a></li></ul></aside>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>Reader comment: first! Great article, keep it up.</p></div>
<form><textarea name="comment"></textarea><button>Post comment</button></form></section>
</main>
<footer><p>Subscribe to our newsletter for the day's top stories.</p>
<p>Copyright {outlet}. All rights reserved. Privacy policy. Terms of use.</p></footer>
</body></html>
"""

DEFAULT_PARAGRAPHS = (
    "The city council voted on Monday to turn the old railway depot into a public park, ending "
    "a decade of arguments over what should happen to the site on the edge of the centre.",
    "Councillors approved the plan by a wide margin after a long debate in which residents from "
    "the neighbouring streets spoke both for and against the design.",
    "Work on clearing the site is expected to begin in the summer, and the first section of the "
    "park could open to the public by the end of next year, officials said.",
    "The depot closed more than twenty years ago and has since been used for storage and, more "
    "recently, for a weekend market that will be given a new home nearby.",
)


def article_page(
    title: str,
    paragraphs: Sequence[str] = DEFAULT_PARAGRAPHS,
    *,
    outlet: str = "Loopback Gazette",
    published: dt.datetime = NOW,
    lang: str = "en",
) -> str:
    """A realistic article page: nav, cookie banner, related links, comments and footer."""
    return PAGE_TEMPLATE.format(
        lang=lang,
        title=escape(title),
        outlet=escape(outlet),
        published=published.isoformat(),
        published_words=published.strftime("%d %B %Y"),
        paragraphs="\n".join(f"<p>{escape(p)}</p>" for p in paragraphs),
    )


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
