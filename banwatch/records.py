"""The one schema of banwatch's records: what flows between the stages, and its vocabularies.

Third-party shapes (feedparser entries, trafilatura documents, DuckDB rows) are normalised
into these dataclasses at the boundary, so every stage is a plain function over lists of them.
The warehouse's tables are described in `banwatch.warehouse.schema`; an event's columns there
are the fields of `Event` here, by name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field

Situation = tuple[str, str, str, str, str]  # (country, subdivision or "", app, scope, body)
Holder = tuple[str, str, str]  # (country, subdivision or "", app): a situation without scope
# (scope, body, action, announced_on, article_id or "" for a stored state)
KnownState = tuple[str, str, str, dt.date, str]


class Level(enum.StrEnum):
    """Who acts: a country, a part of one, or a body above countries (the EU)."""

    NATIONAL = "national"
    SUBNATIONAL = "subnational"
    SUPRANATIONAL = "supranational"


class Scope(enum.StrEnum):
    """Whom or what devices a step covers."""

    GOVERNMENT_DEVICES = "government_devices"
    NATIONWIDE = "nationwide"
    OTHER = "other"


class Action(enum.StrEnum):
    """The state a step puts a situation in."""

    BAN = "ban"
    PROPOSED = "proposed"
    LIFTED = "lifted"


class EventStatus(enum.StrEnum):
    """Whether an event is emailed: only news is; candidates wait for review."""

    NEWS = "news"  # emailed
    CANDIDATE = "candidate"  # confidence below alerts.min_confidence: for review, never alone
    HISTORICAL = "historical"  # confident, but old news when first seen


class AlertStatus(enum.StrEnum):
    """A row of the alert outbox (`alerts.status`)."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verdict(enum.StrEnum):
    """An analyst's judgement of an event (`banwatch review`)."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"


def _coerce(record: object, **vocabularies: type[enum.StrEnum]) -> None:
    """Turn plain strings (a DuckDB row, a detector's output) into their vocabulary's member:
    an unknown value fails here, at the boundary, not as a silent mismatch later."""
    for name, vocabulary in vocabularies.items():
        value = getattr(record, name)
        if not isinstance(value, vocabulary):
            object.__setattr__(record, name, vocabulary(value))


class Outcome(enum.StrEnum):
    """How one feed or article fared; recorded with a fixed reason, never fatal to a pass."""

    OK = "ok"
    NOT_MODIFIED = "not_modified"  # conditional GET answered 304
    SOFT = "soft"  # usable but degraded (bozo feed that still parsed, summary fallback)
    HARD = "hard"  # will not work without a change on the other side (404, not a feed)
    TEMPORARY = "temporary"  # may work next time (timeout, 5xx, 429)


@dataclass(frozen=True)
class FeedSpec:
    """One configured feed (the `[[feeds]]` tables of the config file)."""

    name: str
    url: str
    language: str | None = None
    country: str | None = None


@dataclass(frozen=True)
class FeedState:
    """What the warehouse remembers of a feed between passes (for conditional GET)."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    failure_count: int = 0


@dataclass(frozen=True)
class ParsedEntry:
    """One feed item, normalised. `url` is canonical (courlan), `link` as the feed gave it."""

    feed_name: str
    url: str
    link: str
    title: str
    summary: str
    published_at: dt.datetime | None
    guid: str | None = None


@dataclass
class FeedResult:
    """Outcome of polling one feed."""

    feed_name: str
    url: str
    outcome: Outcome
    reason: str  # fixed vocabulary: "ok", "not_modified", "timeout", "http_500", "bozo", ...
    status_code: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    entries: list[ParsedEntry] = field(default_factory=list)
    error: str | None = None  # human-readable detail
    polled_at: dt.datetime | None = None


@dataclass
class Article:
    """One fetched and extracted article page, keyed by its canonical URL."""

    article_id: str  # sha1 of the canonical url, first 16 hex chars
    url: str  # canonical
    feed_name: str
    title: str
    text: str  # main text (trafilatura), or the feed summary when extraction failed
    published_at: dt.datetime | None
    language: str | None = None
    site_name: str | None = None
    extraction: str = "trafilatura"  # "trafilatura" | "feed_summary"
    outcome: Outcome = Outcome.OK
    reason: str = "ok"
    error: str | None = None
    raw_html_gz: bytes | None = None  # gzip of the page as fetched, for re-processing
    fetched_at: dt.datetime | None = None

    @property
    def lead(self) -> str:
        """Title plus the first ~60 words: what gets embedded (cheap and clusters well)."""
        words = self.text.split()
        return f"{self.title}. {' '.join(words[:60])}".strip()


@dataclass(frozen=True)
class StoryAssignment:
    """Which story (cluster of near-duplicate coverage) an article belongs to."""

    article_id: str
    story_id: str
    similarity: float  # to the story's closest earlier member; 1.0 for a story's first article


@dataclass(frozen=True)
class Detection:
    """One ban event stated in one article.

    `background` is True for older events the article only recalls ("... follows the US ban in
    December"): they are kept as mentions, never alerted from this article.
    """

    article_id: str
    jurisdiction: str
    country: str  # ISO 3166-1 alpha-2, "EU" for EU institutions
    subdivision: str | None  # ISO 3166-2, e.g. "GB-WLS"
    level: Level
    app: str
    scope: Scope
    action: Action
    announced_on: dt.date | None
    evidence: str
    confidence: float
    body: str = ""  # acting body when it acts on its own ("European Parliament"), else ""
    background: bool = False
    # False when the article does not say which devices or whom the step covers ("lifts its
    # ban"): the scope is then a default that the situation's known state may correct.
    scope_explicit: bool = True

    def __post_init__(self) -> None:
        _coerce(self, level=Level, scope=Scope, action=Action)

    @property
    def situation(self) -> Situation:
        """The situation key: (country, subdivision, app, scope, body); its states are events."""
        return (self.country, self.subdivision or "", self.app, self.scope, self.body)


@dataclass
class Event:
    """One state of one situation: what the `ban_events` view shows."""

    event_id: str
    jurisdiction: str
    country: str
    subdivision: str | None
    level: Level
    app: str
    scope: Scope
    action: Action
    body: str
    announced_on: dt.date | None
    first_seen_at: dt.datetime
    confidence: float
    evidence: str
    url: str
    historical: bool = False  # announced before the recency window when first seen: not emailed
    source_count: int = 1
    status: EventStatus = EventStatus.NEWS

    def __post_init__(self) -> None:
        _coerce(self, level=Level, scope=Scope, action=Action, status=EventStatus)

    @property
    def situation(self) -> Situation:
        return (self.country, self.subdivision or "", self.app, self.scope, self.body or "")

    @classmethod
    def first_reported(
        cls,
        d: Detection,
        event_id: str,
        *,
        announced_on: dt.date,
        first_seen_at: dt.datetime,
        url: str,
    ) -> Event:
        """The event a detection starts: the fields both records share are the detection's."""
        own = {"event_id": event_id, "announced_on": announced_on}
        own |= {"first_seen_at": first_seen_at, "url": url}
        shared = {f.name for f in dataclasses.fields(cls)} & {
            f.name for f in dataclasses.fields(Detection)
        }
        return cls(**{name: getattr(d, name) for name in shared - own.keys()}, **own)


@dataclass(frozen=True)
class Source:
    """One article behind one event (a row of `event_sources`)."""

    event_id: str
    article_id: str
    url: str
    outlet: str
    evidence: str
    confidence: float
    announced_on: dt.date | None
    jurisdiction: str
    level: Level

    def __post_init__(self) -> None:
        _coerce(self, level=Level)


@dataclass(frozen=True)
class EventState:
    """One known state of a situation: a stored event with its sources, or a background mention."""

    action: Action
    announced_on: dt.date | None
    event: Event | None = None  # None for a background mention
    sources: tuple[Source, ...] = ()
    article_id: str = ""  # for a mention: the article that recalls it

    def __post_init__(self) -> None:
        _coerce(self, action=Action)

    @property
    def is_mention(self) -> bool:
        return self.event is None

    def sort_key(self) -> tuple[dt.date, int, str]:
        return (self.announced_on or dt.date.min, int(not self.is_mention), self.event_id)

    @property
    def event_id(self) -> str:
        return self.event.event_id if self.event else ""


@dataclass
class Resolution:
    """What a batch of detections changes in the warehouse (`enrich.novelty.resolve_events`)."""

    new_events: list[Event] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # new sources, of new and known events
    mentions: list[Detection] = field(default_factory=list)
    updated_events: list[Event] = field(default_factory=list)  # known events whose fields changed
    # known candidates that became news in this batch -> when (first seen of the source that did it)
    promoted: dict[str, dt.datetime] = field(default_factory=dict)


@dataclass
class PassSummary:
    """Counts for the one-line summary every run ends with."""

    feeds_polled: int = 0
    feeds_failed: int = 0
    new_articles: int = 0
    articles_failed: int = 0
    new_stories: int = 0
    new_events: int = 0
    emails_sent: int = 0
    # Alerts left pending or failed by an SMTP error this pass (`banwatch run` exits 4).
    alerts_undelivered: int = 0
    # Addresses refused (5xx) for an email other recipients got (`banwatch run` exits 4).
    recipients_refused: int = 0

    def line(self) -> str:
        """One line of counts; the undelivered ones are named only when there are some."""
        undelivered = "".join(
            f", {label} {n}"
            for label, n in (
                ("alerts undelivered", self.alerts_undelivered),
                ("recipients refused", self.recipients_refused),
            )
            if n
        )
        return (
            f"feeds polled {self.feeds_polled} (failed {self.feeds_failed}), "
            f"new articles {self.new_articles} (failed {self.articles_failed}), "
            f"new stories {self.new_stories}, new events {self.new_events}, "
            f"emails sent {self.emails_sent}{undelivered}"
        )
