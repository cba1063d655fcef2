"""The bundled sample corpus: five fictional outlets' articles rendered as real web pages.

`make demo`, the end-to-end tests and the benchmarks serve these pages from the loopback
newsroom (`banwatch.newsroom`). The corpus lives in `sample/` at the repository root:

- `outlets.toml`: each outlet's name, feed format, language, page template and evergreen links;
- `templates/<outlet>.html`: jinja2 page templates, each with its own boilerplate;
- `articles.toml`: the articles, with publication times *relative* to the moment of loading
  (`offset_hours`), so the corpus always reads as today's news;
- `expected.toml`: the answer key (events, story groups, negatives, background mentions).

Publication times resolve against a `now` argument, so tests can pin the clock.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import jinja2

from banwatch.errors import ConfigError

if TYPE_CHECKING:
    from banwatch.newsroom import NewsItem

logger = logging.getLogger(__name__)

PHASES = (1, 2, 3)
FEED_FORMATS = ("rss", "atom")
RELATED_LINKS = 3  # earlier stories of the same outlet shown in its related-links box


def sample_dir() -> Path:
    """The `sample/` directory at the repository root (banwatch is installed editable)."""
    return Path(__file__).resolve().parent.parent / "sample"


@dataclass(frozen=True)
class Outlet:
    """One fictional outlet: one feed, one page template."""

    name: str  # used in URLs and as the feed name
    site_name: str
    feed_format: str  # rss | atom
    language: str  # BCP 47, as in <html lang>
    template: str  # file name under sample/templates/
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


def _read_toml(name: str) -> dict[str, Any]:
    path = sample_dir() / name
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            "sample file not found; install banwatch editable (pip install -e .)", path=str(path)
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML ({exc})", path=str(path)) from None


def _require(row: dict[str, Any], keys: tuple[str, ...], where: str, path: str) -> None:
    for key in keys:
        if key not in row:
            raise ConfigError("is required", path=path, key=f"{where}.{key}")


@cache
def load_outlets() -> Mapping[str, Outlet]:
    """The outlets of `sample/outlets.toml`, by name, validated (read-only: it is cached)."""
    path = str(sample_dir() / "outlets.toml")
    outlets: dict[str, Outlet] = {}
    for i, row in enumerate(_read_toml("outlets.toml").get("outlets", [])):
        where = f"outlets[{i}]"
        _require(row, ("name", "site_name", "feed_format", "language", "template"), where, path)
        if row["feed_format"] not in FEED_FORMATS:
            raise ConfigError("must be 'rss' or 'atom'", path=path, key=f"{where}.feed_format")
        if row["name"] in outlets:
            raise ConfigError(f"duplicate outlet {row['name']!r}", path=path, key=f"{where}.name")
        if not (sample_dir() / "templates" / row["template"]).is_file():
            raise ConfigError("template file not found", path=path, key=f"{where}.template")
        outlets[row["name"]] = Outlet(**{**row, "evergreen": tuple(row.get("evergreen", ()))})
    return MappingProxyType(outlets)


@cache
def load_articles() -> tuple[SampleArticle, ...]:
    """Every article of `sample/articles.toml` (all phases), validated, in file order."""
    path = str(sample_dir() / "articles.toml")
    outlets = load_outlets()
    articles: list[SampleArticle] = []
    seen: set[str] = set()
    keys = ("outlet", "slug", "phase", "offset_hours", "section", "author", "title", "summary")
    for i, row in enumerate(_read_toml("articles.toml").get("articles", [])):
        where = f"articles[{i}]"
        _require(row, (*keys, "body"), where, path)
        if row["outlet"] not in outlets:
            raise ConfigError(f"unknown outlet {row['outlet']!r}", path=path, key=f"{where}.outlet")
        if row["slug"] in seen:
            raise ConfigError(f"duplicate slug {row['slug']!r}", path=path, key=f"{where}.slug")
        if row["phase"] not in PHASES:
            raise ConfigError("must be 1, 2 or 3", path=path, key=f"{where}.phase")
        if row["offset_hours"] > 0:
            raise ConfigError(
                "must be <= 0 (no future news)", path=path, key=f"{where}.offset_hours"
            )
        seen.add(row["slug"])
        paragraphs = tuple(p.strip() for p in row["body"].split("\n\n") if p.strip())
        articles.append(
            SampleArticle(
                **{k: row[k] for k in keys if k != "offset_hours"},
                offset_hours=float(row["offset_hours"]),
                paragraphs=paragraphs,
            )
        )
    return tuple(articles)


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(sample_dir() / "templates"),
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


def _resolve_now(now: dt.datetime | None) -> dt.datetime:
    if now is None:
        return dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    return now.astimezone(dt.UTC)


def load_sample(max_phase: int = 1, now: dt.datetime | None = None) -> list[NewsItem]:
    """The sample articles of phases 1..`max_phase`, rendered, newest first.

    `now` (default: the current UTC time) anchors the relative publication times, so the
    corpus is always inside the pipeline's recency window.
    """
    from banwatch.newsroom import NewsItem  # lazy: the newsroom imports nothing from here

    if max_phase not in PHASES:
        raise ValueError(f"max_phase must be one of {PHASES}, got {max_phase!r}")
    now = _resolve_now(now)
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


# ---------------------------------------------------------------- the answer key


@dataclass(frozen=True)
class ExpectedEvent:
    """One event a correct pipeline finds, with the slugs of the articles that report it."""

    key: str  # a readable id within the sample
    jurisdiction: str
    country: str
    subdivision: str | None
    level: str
    app: str
    scope: str
    action: str
    body: str
    announced_on: dt.date  # resolved against `now`; allow a day either side
    phase: int  # the first phase after which it exists
    sources: tuple[str, ...]  # slugs, limited to the phases loaded

    @property
    def identity(self) -> tuple[str, str, str, str, str, str]:
        """(country, subdivision, app, scope, action, body): what makes two events the same."""
        return (self.country, self.subdivision or "", self.app, self.scope, self.action, self.body)


@dataclass(frozen=True)
class ExpectedStory:
    """Articles that are the same news story (near-duplicate coverage)."""

    key: str
    slugs: tuple[str, ...]  # same-day copies: must share one story
    follow_ups: tuple[str, ...] = ()  # later coverage a human files under the same story


@dataclass(frozen=True)
class BackgroundMention:
    """An older action an article only recalls: never a new, alerted event from that article."""

    country: str
    subdivision: str | None
    app: str
    scope: str
    action: str
    body: str
    slugs: tuple[str, ...]
    note: str = ""


@dataclass(frozen=True)
class Expected:
    """The answer key for the sample up to one phase."""

    max_phase: int
    events: tuple[ExpectedEvent, ...]
    stories: tuple[ExpectedStory, ...]
    negatives: dict[str, str]  # slug -> label (no event must come from these)
    background: tuple[BackgroundMention, ...]
    emails: int  # alert emails a correct pipeline has sent after this phase, in total
    new_emails: dict[int, int] = field(default_factory=dict)  # phase -> emails sent in that pass


def load_expected(max_phase: int = 1, now: dt.datetime | None = None) -> Expected:
    """`sample/expected.toml` limited to phases 1..`max_phase`, dates resolved against `now`."""
    if max_phase not in PHASES:
        raise ValueError(f"max_phase must be one of {PHASES}, got {max_phase!r}")
    now = _resolve_now(now)
    raw = _read_toml("expected.toml")
    phase_of = {a.slug: a.phase for a in load_articles()}

    def loaded(slugs: list[str]) -> tuple[str, ...]:
        return tuple(s for s in slugs if phase_of[s] <= max_phase)

    events = tuple(
        ExpectedEvent(
            key=e["key"],
            jurisdiction=e["jurisdiction"],
            country=e["country"],
            subdivision=e.get("subdivision") or None,
            level=e["level"],
            app=e["app"],
            scope=e["scope"],
            action=e["action"],
            body=e.get("body", ""),
            announced_on=(now + dt.timedelta(hours=e["announced_offset_hours"])).date(),
            phase=e["phase"],
            sources=loaded(e["sources"]),
        )
        for e in raw["events"]
        if e["phase"] <= max_phase
    )
    stories = tuple(
        ExpectedStory(
            key=s["key"], slugs=loaded(s["slugs"]), follow_ups=loaded(s.get("follow_ups", []))
        )
        for s in raw["stories"]
        if loaded(s["slugs"])
    )
    negatives = {
        n["slug"]: n["label"] for n in raw["negatives"] if phase_of[n["slug"]] <= max_phase
    }
    background = tuple(
        BackgroundMention(
            country=b["country"],
            subdivision=b.get("subdivision") or None,
            app=b["app"],
            scope=b["scope"],
            action=b["action"],
            body=b.get("body", ""),
            slugs=loaded(b["slugs"]),
            note=b.get("note", ""),
        )
        for b in raw["background"]
        if loaded(b["slugs"])
    )
    new_emails = {p: sum(1 for e in events if e.phase == p) for p in PHASES if p <= max_phase}
    return Expected(
        max_phase=max_phase,
        events=events,
        stories=stories,
        negatives=negatives,
        background=background,
        emails=len(events),
        new_emails=new_emails,
    )


# ---------------------------------------------------------------- golden extraction


def golden_extract(html: str) -> dict[str, Any]:
    """What banwatch's extraction makes of one page: title, text, date, language, sitename.

    The golden fixtures (`tests/fixtures/golden/`) record this for one page per outlet, so an
    upgrade of trafilatura (or a change to `ingest.extract`) that alters extraction shows up
    as a failing test.
    """
    from banwatch.ingest.extract import extract_page  # lazy: trafilatura takes ~0.5 s to import

    doc = extract_page(html)
    empty = {"title": None, "text": None, "date": None, "language": None, "sitename": None}
    return {key: doc.get(key) for key in empty} if doc else empty
