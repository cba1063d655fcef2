"""The bundled sample corpus: five fictional outlets' articles rendered as real web pages.

`banwatch demo` serves these pages from the sample newsroom (`banwatch.sample.newsroom`); the
tests and the benchmarks serve them too. The corpus ships inside the package, read with
`importlib.resources`, so the demo works from any install (a wheel, the Docker image):

- `outlets.toml`: each outlet's name, feed format, language, page template and evergreen links;
- `templates/<outlet>.html`: jinja2 page templates, each with its own boilerplate;
- `articles.toml`: the articles, with publication times *relative* to the moment of loading
  (`offset_hours`), so the corpus always reads as today's news.

Publication times resolve against a `now` argument, so tests can pin the clock. The answer key
(what a correct pipeline finds) is test material: `tests/support/sample.py`.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from types import MappingProxyType
from typing import Any

import jinja2

from banwatch.errors import ConfigError
from banwatch.sample.newsroom import NewsItem

logger = logging.getLogger(__name__)

PHASES = (1, 2, 3)
FEED_FORMATS = ("rss", "atom")
RELATED_LINKS = 3  # earlier stories of the same outlet shown in its related-links box
ARTICLE_KEYS = ("outlet", "slug", "phase", "offset_hours", "section", "author", "title", "summary")


def corpus() -> Traversable:
    """The corpus files, wherever the package is installed."""
    return files(__name__)


@dataclass(frozen=True)
class Outlet:
    """One fictional outlet: one feed, one page template."""

    name: str  # used in URLs and as the feed name
    site_name: str
    feed_format: str  # rss | atom
    language: str  # BCP 47, as in <html lang>
    template: str  # file name under templates/
    evergreen: tuple[str, ...] = ()  # headlines that always fill the related-links box


@dataclass(frozen=True)
class SampleArticle:
    """One article as written in `articles.toml`, before its time is resolved and it is rendered."""

    outlet: str
    slug: str
    phase: int
    offset_hours: float  # publication time relative to `now`; <= 0
    section: str
    author: str
    title: str
    summary: str
    paragraphs: tuple[str, ...]  # "## " starts a subheading

    def published(self, now: dt.datetime) -> dt.datetime:
        return (now + dt.timedelta(hours=self.offset_hours)).replace(microsecond=0)


def read_toml(resource: Traversable) -> dict[str, Any]:
    """One TOML file of the corpus (or of the answer key), or a `ConfigError` naming it."""
    try:
        return tomllib.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "sample file not found in the installed package", path=str(resource)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", path=str(resource)) from None


def _require(row: dict[str, Any], keys: tuple[str, ...], where: str, path: str) -> None:
    for key in keys:
        if key not in row:
            raise ConfigError("is required", path=path, key=f"{where}.{key}")


def _outlet(row: dict[str, Any], where: str, path: str, seen: Mapping[str, Outlet]) -> Outlet:
    _require(row, ("name", "site_name", "feed_format", "language", "template"), where, path)
    if row["feed_format"] not in FEED_FORMATS:
        raise ConfigError("must be 'rss' or 'atom'", path=path, key=f"{where}.feed_format")
    if row["name"] in seen:
        raise ConfigError(f"duplicate outlet {row['name']!r}", path=path, key=f"{where}.name")
    if not corpus().joinpath("templates", row["template"]).is_file():
        raise ConfigError("template file not found", path=path, key=f"{where}.template")
    return Outlet(**{**row, "evergreen": tuple(row.get("evergreen", ()))})


@cache
def load_outlets() -> Mapping[str, Outlet]:
    """The outlets of `outlets.toml`, by name, validated (read-only: it is cached)."""
    resource = corpus() / "outlets.toml"
    outlets: dict[str, Outlet] = {}
    for i, row in enumerate(read_toml(resource).get("outlets", [])):
        outlet = _outlet(row, f"outlets[{i}]", str(resource), outlets)
        outlets[outlet.name] = outlet
    return MappingProxyType(outlets)


def _article_errors(row: dict[str, Any], seen: set[str]) -> tuple[str, str] | None:
    """(key, message) of the first thing wrong with one article row, if any."""
    if row["outlet"] not in load_outlets():
        return "outlet", f"unknown outlet {row['outlet']!r}"
    if row["slug"] in seen:
        return "slug", f"duplicate slug {row['slug']!r}"
    if row["phase"] not in PHASES:
        return "phase", "must be 1, 2 or 3"
    if row["offset_hours"] > 0:
        return "offset_hours", "must be <= 0 (no future news)"
    return None


@cache
def load_articles() -> tuple[SampleArticle, ...]:
    """Every article of `articles.toml` (all phases), validated, in file order."""
    resource = corpus() / "articles.toml"
    path = str(resource)
    articles: list[SampleArticle] = []
    seen: set[str] = set()
    for i, row in enumerate(read_toml(resource).get("articles", [])):
        where = f"articles[{i}]"
        _require(row, (*ARTICLE_KEYS, "body"), where, path)
        error = _article_errors(row, seen)
        if error is not None:
            raise ConfigError(error[1], path=path, key=f"{where}.{error[0]}")
        seen.add(row["slug"])
        articles.append(
            SampleArticle(
                **{k: row[k] for k in ARTICLE_KEYS if k != "offset_hours"},
                offset_hours=float(row["offset_hours"]),
                paragraphs=tuple(p.strip() for p in row["body"].split("\n\n") if p.strip()),
            )
        )
    return tuple(articles)


def _template_source(name: str) -> str:
    return corpus().joinpath("templates", name).read_text(encoding="utf-8")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a typo in a template fails loudly, not blankly
        keep_trailing_newline=True,
    )


def _related(article: SampleArticle, outlet: Outlet) -> list[dict[str, str]]:
    """The outlet's few latest earlier stories, then its evergreen headlines.

    Only earlier articles are linked, so a page renders the same whichever phase is served.
    """
    earlier = sorted(
        (
            a
            for a in load_articles()
            if a.outlet == article.outlet and a.offset_hours < article.offset_hours
        ),
        key=lambda a: a.offset_hours,
        reverse=True,
    )[:RELATED_LINKS]
    links = [{"title": a.title, "href": f"/{a.outlet}/{a.slug}.html"} for a in earlier]
    links += [
        {"title": t, "href": f"/{outlet.name}/evergreen-{n}.html"}
        for n, t in enumerate(outlet.evergreen, 1)
    ]
    return links


def render_page(article: SampleArticle, now: dt.datetime) -> str:
    """The full HTML page of `article` through its outlet's template."""
    outlet = load_outlets()[article.outlet]
    published = article.published(now)
    blocks = [
        {"kind": "h2", "text": p[3:].strip()} if p.startswith("## ") else {"kind": "p", "text": p}
        for p in article.paragraphs
    ]
    json_ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "description": article.summary,
        "datePublished": published.isoformat(),
        "dateModified": published.isoformat(),
        "inLanguage": outlet.language,
        "articleSection": article.section,
        "author": {"@type": "Person", "name": article.author},
        "publisher": {"@type": "Organization", "name": outlet.site_name},
    }
    return (
        _environment()
        .get_template(outlet.template)
        .render(
            outlet=outlet,
            article=article,
            blocks=blocks,
            published=published,
            published_iso=published.isoformat(),
            related=_related(article, outlet),
            json_ld=json_ld,
        )
    )


def resolve_now(now: dt.datetime | None) -> dt.datetime:
    """`now` in UTC (default: the current time); a naive `now` is a caller's mistake."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC)


def check_phase(max_phase: int) -> None:
    if max_phase not in PHASES:
        raise ValueError(f"max_phase must be one of {PHASES}, got {max_phase!r}")


def load_sample(max_phase: int = 1, now: dt.datetime | None = None) -> list[NewsItem]:
    """The sample articles of phases 1..`max_phase`, rendered, newest first.

    `now` (default: the current UTC time) anchors the relative publication times, so the
    corpus is always inside the pipeline's recency window.
    """
    check_phase(max_phase)
    now = resolve_now(now)
    outlets = load_outlets()
    items = [
        NewsItem(
            outlet=a.outlet,
            slug=a.slug,
            title=a.title,
            summary=a.summary,
            published=a.published(now),
            html=render_page(a, now),
            feed_format=outlets[a.outlet].feed_format,
        )
        for a in load_articles()
        if a.phase <= max_phase
    ]
    items.sort(key=lambda item: item.published, reverse=True)
    logger.debug("sample: %s items up to phase %s", len(items), max_phase)
    return items
