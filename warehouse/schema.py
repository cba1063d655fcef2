"""The warehouse's tables as they are NOW, one spec per table: DDL, comments and Arrow schema.

A table is a tuple of column specs (name, DuckDB type and constraints, Arrow type, comment),
so the SQL that creates a table and the Arrow batches that load it cannot drift apart, and
`docs/warehouse.md` can be checked against one list. The migrations in
`banwatch.warehouse.migrations` stay literal DDL (a past migration never changes when this
spec does); `tests/test_warehouse.py` proves that migrating an empty file gives exactly these
tables. Adding a column: append a migration, then the column here.

Column names are the field names of the records in `banwatch.records` (an `events` row is an
`Event`, a `detections` row a `Detection`), which is what `Table.batch` relies on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

_STR = pa.string()
_TS = pa.timestamp("us", tz="UTC")
_DATE = pa.date32()
_F64 = pa.float64()
_I32 = pa.int32()
_I64 = pa.int64()
_BOOL = pa.bool_()
_BLOB = pa.binary()
_VECTOR = pa.list_(pa.float32())


def utc(when: dt.datetime | None) -> dt.datetime | None:
    """Naive datetimes are taken as UTC (Arrow would do the same, explicitly here)."""
    if when is not None and when.tzinfo is None:
        return when.replace(tzinfo=dt.UTC)
    return when


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Column:
    """One column: its name, DuckDB declaration, Arrow type and the COMMENT analysts read."""

    name: str
    ddl: str
    arrow: pa.DataType
    comment: str

    def values(self, items: Sequence[Any]) -> pa.Array:
        """An Arrow array of this column's type (naive times as UTC, numbers as floats)."""
        if self.arrow == _TS:
            items = [utc(v) for v in items]
        elif self.arrow == _F64:
            items = [None if v is None else float(v) for v in items]
        return pa.array(items, self.arrow)


@dataclass(frozen=True)
class Table:
    """One table: its columns in order, its comment, and a composite key if it has one."""

    name: str
    comment: str
    columns: tuple[Column, ...]
    key: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def ddl(self) -> list[str]:
        """CREATE TABLE and every COMMENT: the table as a fresh warehouse has it."""
        parts = [f"{c.name} {c.ddl}" for c in self.columns]
        if self.key:
            parts.append(self.key)
        return [
            f"CREATE TABLE {self.name} ({', '.join(parts)})",
            f"COMMENT ON TABLE {self.name} IS {_quote(self.comment)}",
            *(
                f"COMMENT ON COLUMN {self.name}.{c.name} IS {_quote(c.comment)}"
                for c in self.columns
            ),
        ]

    def arrow_schema(self, names: Iterable[str] | None = None) -> pa.Schema:
        """The Arrow schema of (some of) the columns, in the order asked for."""
        wanted = self.names if names is None else tuple(names)
        return pa.schema([pa.field(n, self.column(n).arrow) for n in wanted])

    def batch(
        self,
        records: Sequence[Any] | None = None,
        columns: Iterable[str] | None = None,
        **values: Sequence[Any],
    ) -> pa.Table:
        """An Arrow batch of `columns`: each from `values[name]` when given, else the records'
        attribute of that name (a column is a record field of the same name). By default all
        columns, or without records those in `values`."""
        if columns is not None:
            wanted = tuple(columns)
        elif records is None:
            wanted = tuple(n for n in self.names if n in values)
        else:
            wanted = self.names
        rows = records or ()
        arrays = {
            name: self.column(name).values(
                values[name] if name in values else [getattr(r, name) for r in rows]
            )
            for name in wanted
        }
        return pa.table(arrays, schema=self.arrow_schema(wanted))


FEEDS = Table(
    "feeds",
    "One row per configured feed: conditional-GET state and the outcome of the last poll.",
    (
        Column("name", "VARCHAR PRIMARY KEY", _STR, "Feed name from the config file."),
        Column("url", "VARCHAR", _STR, "Feed URL as configured."),
        Column("etag", "VARCHAR", _STR, "ETag of the last 200 answer, sent back as If-None-Match."),
        Column(
            "last_modified",
            "VARCHAR",
            _STR,
            "Last-Modified of the last 200 answer (If-Modified-Since).",
        ),
        Column("last_polled_at", "TIMESTAMPTZ", _TS, "When the feed was last polled."),
        Column("last_outcome", "VARCHAR", _STR, "ok | not_modified | soft | hard | temporary."),
        Column(
            "last_reason",
            "VARCHAR",
            _STR,
            "Fixed reason of the last outcome (http_500, timeout, bozo...).",
        ),
        Column(
            "last_error", "VARCHAR", _STR, "Human-readable detail of the last failure, else NULL."
        ),
        Column("last_status", "INTEGER", _I32, "HTTP status code of the last poll, if any."),
        Column(
            "failure_count",
            "INTEGER",
            _I32,
            "Consecutive failed polls (hard or temporary); 0 after a success.",
        ),
        Column(
            "entries_seen",
            "BIGINT",
            _I64,
            "Feed items seen over all polls (items repeat between polls).",
        ),
        Column(
            "last_success_at",
            "TIMESTAMPTZ",
            _TS,
            "Last poll that answered ok or not_modified (304); NULL if none.",
        ),
        Column(
            "last_new_article_at",
            "TIMESTAMPTZ",
            _TS,
            "Last poll that brought an article banwatch had not seen before; NULL if none.",
        ),
    ),
)

ARTICLES = Table(
    "articles",
    "One row per article page (canonical URL), fetched and extracted once.",
    (
        Column(
            "article_id",
            "VARCHAR PRIMARY KEY",
            _STR,
            "sha1 of the canonical URL, first 16 hex chars.",
        ),
        Column("url", "VARCHAR UNIQUE", _STR, "Canonical URL of the article."),
        Column("feed_name", "VARCHAR", _STR, "Feed that listed the article first."),
        Column("title", "VARCHAR", _STR, "Headline (untrusted text from the page)."),
        Column(
            "text",
            "VARCHAR",
            _STR,
            "Main text (trafilatura), or the feed summary when extraction failed.",
        ),
        Column("published_at", "TIMESTAMPTZ", _TS, "Publication time from the page or the feed."),
        Column("language", "VARCHAR", _STR, "Language code of the text, if known."),
        Column("site_name", "VARCHAR", _STR, "Outlet name from the page metadata."),
        Column("extraction", "VARCHAR", _STR, "trafilatura | feed_summary."),
        Column("outcome", "VARCHAR", _STR, "ok | soft | hard | temporary."),
        Column(
            "reason",
            "VARCHAR",
            _STR,
            "Fixed reason of the outcome (http_404, too_large, charset...).",
        ),
        Column("error", "VARCHAR", _STR, "Human-readable detail of a failure, else NULL."),
        Column("raw_html_gz", "BLOB", _BLOB, "gzip of the page as fetched, for re-processing."),
        Column("fetched_at", "TIMESTAMPTZ", _TS, "When the page was fetched."),
        Column(
            "story_id",
            "VARCHAR",
            _STR,
            "Story (cluster of near-duplicate coverage) of the article.",
        ),
        Column("run_id", "VARCHAR", _STR, "Run that last loaded the article."),
    ),
)

ARTICLE_EMBEDDINGS = Table(
    "article_embeddings",
    "Sentence embedding of each article's title + lead, per model (unit-normalised).",
    (
        Column("article_id", "VARCHAR", _STR, "The article (articles.article_id)."),
        Column("model", "VARCHAR", _STR, "sentence-transformers model name or path."),
        Column("embedding", "FLOAT[]", _VECTOR, "Unit-normalised embedding vector."),
        Column(
            "signature",
            "VARCHAR",
            _STR,
            (
                "Story signature (places and apps of title + first sentence) as JSON; NULL until "
                "first computed."
            ),
        ),
        Column(
            "seq",
            "BIGINT",
            _I64,
            "Load order, unique: the stories index's item key and high-water mark.",
        ),
    ),
    key="PRIMARY KEY (article_id, model)",
)

STORIES = Table(
    "stories",
    "Clusters of near-duplicate coverage: forty outlets' copies of one story are one row.",
    (
        Column(
            "story_id",
            "VARCHAR PRIMARY KEY",
            _STR,
            "Stable id, derived from the story's first article.",
        ),
        Column("first_article_id", "VARCHAR", _STR, "The article that started the story."),
        Column("first_seen_at", "TIMESTAMPTZ", _TS, "When banwatch first saw the story."),
        Column("article_count", "INTEGER", _I32, "Articles in the story."),
    ),
)

EVENTS = Table(
    "events",
    (
        "One row per state (ban, proposed, lifted) of one situation (country, "
        "subdivision, app, scope, body). Analysts should query the ban_events view."
    ),
    (
        Column(
            "event_id",
            "VARCHAR PRIMARY KEY",
            _STR,
            "Stable id: sha1 of situation, action, first date.",
        ),
        Column("jurisdiction", "VARCHAR", _STR, "Who acted, in words (majority over the sources)."),
        Column("country", "VARCHAR", _STR, "ISO 3166-1 alpha-2 ('EU' for EU institutions)."),
        Column(
            "subdivision", "VARCHAR", _STR, "ISO 3166-2 code of a sub-national actor, else NULL."
        ),
        Column("level", "VARCHAR", _STR, "national | subnational | supranational."),
        Column("app", "VARCHAR", _STR, "Canonical app or vendor name."),
        Column("scope", "VARCHAR", _STR, "government_devices | nationwide | other."),
        Column("action", "VARCHAR", _STR, "ban | proposed | lifted."),
        Column(
            "body",
            "VARCHAR",
            _STR,
            "Acting body when it acts on its own ('European Parliament'), else ''.",
        ),
        Column(
            "announced_on",
            "DATE",
            _DATE,
            "Best estimate of the announcement date (median of sources).",
        ),
        Column("first_seen_at", "TIMESTAMPTZ", _TS, "When banwatch first saw the event."),
        Column(
            "confidence",
            "DOUBLE",
            _F64,
            "Calibrated confidence 0..1: the most confident source's (not combined).",
        ),
        Column("evidence", "VARCHAR", _STR, "The most confident supporting sentence."),
        Column("url", "VARCHAR", _STR, "The article the evidence comes from."),
        Column(
            "historical",
            "BOOLEAN",
            _BOOL,
            "Announced before the recency window when first seen: not emailed.",
        ),
        Column(
            "status",
            "VARCHAR DEFAULT 'news'",
            _STR,
            (
                "news: emailed | candidate: confidence below alerts.min_confidence, never "
                "emailed alone, listed in the digest and ban_event_candidates | historical: "
                "announced before the recency window when first seen, not emailed."
            ),
        ),
    ),
)

EVENT_SOURCES = Table(
    "event_sources",
    "The articles behind each event (one row per event and article).",
    (
        Column("event_id", "VARCHAR", _STR, "The event (events.event_id)."),
        Column("article_id", "VARCHAR", _STR, "The article (articles.article_id)."),
        Column("url", "VARCHAR", _STR, "URL of the article."),
        Column(
            "outlet",
            "VARCHAR",
            _STR,
            "Outlet (site name, else feed name); source_count counts these.",
        ),
        Column("evidence", "VARCHAR", _STR, "The sentence of this article that states the event."),
        Column("confidence", "DOUBLE", _F64, "Detector confidence for this article, 0..1."),
        Column("announced_on", "DATE", _DATE, "Announcement date according to this article."),
        Column("jurisdiction", "VARCHAR", _STR, "Jurisdiction according to this article."),
        Column("level", "VARCHAR", _STR, "Level according to this article."),
    ),
    key="PRIMARY KEY (event_id, article_id)",
)


def _detected(*, date: str, evidence: str) -> tuple[Column, ...]:
    """The columns of a detection's fields (`mentions` and `detections` share them)."""
    return (
        Column("jurisdiction", "VARCHAR", _STR, "Who acted, in words."),
        Column("country", "VARCHAR", _STR, "ISO 3166-1 alpha-2."),
        Column("subdivision", "VARCHAR", _STR, "ISO 3166-2 code, else NULL."),
        Column("level", "VARCHAR", _STR, "national | subnational | supranational."),
        Column("app", "VARCHAR", _STR, "Canonical app or vendor name."),
        Column("scope", "VARCHAR", _STR, "government_devices | nationwide | other."),
        Column("body", "VARCHAR", _STR, "Acting body, else ''."),
        Column("action", "VARCHAR", _STR, "ban | proposed | lifted."),
        Column("announced_on", "DATE", _DATE, date),
        Column("evidence", "VARCHAR", _STR, evidence),
        Column("confidence", "DOUBLE", _F64, "Detector confidence, 0..1."),
    )


MENTIONS = Table(
    "mentions",
    "Background mentions: older events an article only recalls. Never alerted.",
    (
        Column(
            "mention_id",
            "VARCHAR PRIMARY KEY",
            _STR,
            "sha1 of the article and the mentioned state.",
        ),
        Column("article_id", "VARCHAR", _STR, "The article that recalls the event."),
        *_detected(
            date="Date of the recalled event, if the article gives one.",
            evidence="The sentence that recalls it.",
        ),
    ),
)

DETECTIONS = Table(
    "detections",
    "Every raw detection of every article, background or not, for auditing the detector.",
    (
        Column(
            "detection_id",
            "VARCHAR PRIMARY KEY",
            _STR,
            "sha1 of the article and all detected fields.",
        ),
        Column("article_id", "VARCHAR", _STR, "The article."),
        *_detected(date="Announcement date as detected.", evidence="The sentence."),
        Column("background", "BOOLEAN", _BOOL, "True for an older event the article only recalls."),
    ),
)

ALERTS = Table(
    "alerts",
    "The alert outbox: one row per news event (status news), claimed before sending.",
    (
        Column("event_id", "VARCHAR PRIMARY KEY", _STR, "The event (events.event_id)."),
        Column(
            "status",
            "VARCHAR",
            _STR,
            (
                "pending: due (also after a connection, TLS, login or 4xx error) | sending: "
                "claimed | sent: accepted for at least one recipient | failed: refused "
                "alerts.max_refusals times | skipped: dropped by an operator (banwatch alerts "
                "skip)."
            ),
        ),
        Column("attempts", "INTEGER", _I32, "Send attempts so far."),
        Column("last_error", "VARCHAR", _STR, "Error of the last failed attempt, else NULL."),
        Column("message_id", "VARCHAR", _STR, "Message-ID of the email (<event_id@banwatch>)."),
        Column("queued_at", "TIMESTAMPTZ", _TS, "When the event was queued (its first_seen_at)."),
        Column("sent_at", "TIMESTAMPTZ", _TS, "When the SMTP server accepted the email."),
        Column(
            "refusals",
            "INTEGER DEFAULT 0",
            _I32,
            (
                "Times the server refused the whole email (5xx on MAIL/DATA, or every recipient "
                "5xx); at alerts.max_refusals the row becomes failed (banwatch alerts resend)."
            ),
        ),
    ),
)

RUNS = Table(
    "runs",
    "One row per pass: its counts and status.",
    (
        Column("run_id", "VARCHAR PRIMARY KEY", _STR, "Airflow run id or cli-<timestamp>."),
        Column("started_at", "TIMESTAMPTZ", _TS, "When the pass started."),
        Column(
            "finished_at", "TIMESTAMPTZ", _TS, "When it finished; NULL while running or if killed."
        ),
        Column("feeds_polled", "INTEGER", _I32, "Feeds polled."),
        Column("feeds_failed", "INTEGER", _I32, "Feeds that failed (hard or temporary)."),
        Column("new_articles", "INTEGER", _I32, "Articles loaded for the first time."),
        Column(
            "articles_failed", "INTEGER", _I32, "Articles that could not be fetched or extracted."
        ),
        Column("new_stories", "INTEGER", _I32, "Stories started."),
        Column("new_events", "INTEGER", _I32, "Events created (historical ones included)."),
        Column("emails_sent", "INTEGER", _I32, "Alert emails sent."),
        Column(
            "status",
            "VARCHAR",
            _STR,
            (
                "running | finished | failed | aborted (interrupted: killed or timed out; marked "
                "by the next pass, reason in error)."
            ),
        ),
        Column(
            "error",
            "VARCHAR",
            _STR,
            "Why the pass failed (status 'failed'), one line; NULL otherwise.",
        ),
        Column(
            "pid",
            "INTEGER",
            _I32,
            "Process running the whole pass (banwatch run); NULL for Airflow.",
        ),
        Column("host", "VARCHAR", _STR, "Host of that process."),
        Column(
            "process_started_at",
            "TIMESTAMPTZ",
            _TS,
            (
                "Wall clock when the pass (or its latest retry) started; started_at is the run's "
                "time."
            ),
        ),
    ),
)

ALERT_RECIPIENTS = Table(
    "alert_recipients",
    "Each alert's outcome per recipient address, as the SMTP server answered RCPT.",
    (
        Column("event_id", "VARCHAR", _STR, "The alert (alerts.event_id)."),
        Column("recipient", "VARCHAR", _STR, "One address of alerts.recipients."),
        Column(
            "status",
            "VARCHAR",
            _STR,
            "accepted | refused (5xx: not retried unless resent) | deferred (4xx).",
        ),
        Column(
            "smtp_code",
            "INTEGER",
            _I32,
            "The server's reply code to RCPT (or to DATA when that refused it).",
        ),
        Column("error", "VARCHAR", _STR, "The server's reply text, else NULL."),
        Column("updated_at", "TIMESTAMPTZ", _TS, "When this outcome was recorded."),
    ),
    key="PRIMARY KEY (event_id, recipient)",
)

DIGESTS = Table(
    "digests",
    "One row per day whose digest email was claimed or sent (at most once a day).",
    (
        Column(
            "day",
            "DATE PRIMARY KEY",
            _DATE,
            "The day the digest covers (events first seen that UTC day).",
        ),
        Column(
            "status",
            "VARCHAR NOT NULL",
            _STR,
            (
                "sending: claimed, or left by a killed run (sent again next call) | pending: the "
                "last attempt failed (SMTP), retried next call | sent: never sent again."
            ),
        ),
        Column(
            "attempts",
            "INTEGER NOT NULL DEFAULT 0",
            _I32,
            "Times the digest was claimed for sending.",
        ),
        Column("events", "INTEGER", _I32, "News events listed in the last attempt."),
        Column("candidates", "INTEGER", _I32, "Candidates listed in the last attempt."),
        Column("message_id", "VARCHAR", _STR, "Message-ID of the email."),
        Column("sent_at", "TIMESTAMPTZ", _TS, "When the SMTP server accepted it, else NULL."),
        Column("last_error", "VARCHAR", _STR, "Why the last attempt failed, else NULL."),
    ),
)

COUNTRIES = Table(
    "countries",
    "ISO 3166-1 countries (pycountry) and 'EU', for names beside codes.",
    (
        Column("code", "VARCHAR PRIMARY KEY", _STR, "ISO 3166-1 alpha-2, or 'EU'."),
        Column("name", "VARCHAR NOT NULL", _STR, "English short name."),
    ),
)

JUDGEMENTS = Table(
    "judgements",
    "Analysts' judgements of events (banwatch review); the latest per event wins.",
    (
        Column("event_id", "VARCHAR", _STR, "The event judged (events.event_id)."),
        Column(
            "seq",
            "INTEGER",
            _I32,
            "1 for the event's first judgement, 2 for the next...: the highest wins.",
        ),
        Column("verdict", "VARCHAR NOT NULL", _STR, "confirmed | rejected."),
        Column("note", "VARCHAR", _STR, "The analyst's note, else NULL."),
        Column("reviewer", "VARCHAR", _STR, "Who judged ($USER of the banwatch review command)."),
        Column("judged_at", "TIMESTAMPTZ NOT NULL", _TS, "When."),
    ),
    key="PRIMARY KEY (event_id, seq)",
)

TABLES: tuple[Table, ...] = (
    FEEDS,
    ARTICLES,
    ARTICLE_EMBEDDINGS,
    STORIES,
    EVENTS,
    EVENT_SOURCES,
    MENTIONS,
    DETECTIONS,
    ALERTS,
    RUNS,
    ALERT_RECIPIENTS,
    DIGESTS,
    COUNTRIES,
    JUDGEMENTS,
)

BY_NAME = {t.name: t for t in TABLES}
