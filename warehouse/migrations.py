"""Schema changes as named migration functions, recorded in `schema_migrations`.

Each migration is a plain function `mNNN_what(con)`, applied once, in order, inside its own
transaction together with the row that records it, so a crash never leaves a half-applied
schema. To change the schema, append a new function to `MIGRATIONS` (never edit an applied one),
make the same change to the current tables' spec in `banwatch.warehouse.schema` (a test checks
that both agree) and document the new columns in `docs/warehouse.md`. Migrations are literal
DDL, never derived from the spec: `m001_initial` is frozen in `banwatch.warehouse.m001`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import duckdb
from banwatch.warehouse.m001 import M001_STATEMENTS

logger = logging.getLogger(__name__)

Migration = Callable[[duckdb.DuckDBPyConnection], None]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def m001_initial(con: duckdb.DuckDBPyConnection) -> None:
    """Every table, commented, and the `ban_events` view analysts query (frozen literal DDL)."""
    for statement in M001_STATEMENTS:
        con.execute(statement)


def m002_run_errors(con: duckdb.DuckDBPyConnection) -> None:
    """Record why a pass failed, so a failed run is visible in `runs`, not only in a log."""
    con.execute("ALTER TABLE runs ADD COLUMN error VARCHAR")
    con.execute(
        "COMMENT ON COLUMN runs.error IS "
        + _quote("Why the pass failed (status 'failed'), one line; NULL otherwise.")
    )
    con.execute("COMMENT ON COLUMN runs.status IS " + _quote("running | finished | failed."))


# m003: the views analysts query, split by status; every column commented (name, comment).
EVENT_VIEW_COLUMNS: list[tuple[str, str]] = [
    ("event_id", "Stable id of the event: sha1 of situation, action, first date (16 hex)."),
    ("jurisdiction", "Who acted, in words (majority over the sources)."),
    ("country", "ISO 3166-1 alpha-2 of the country ('EU' for EU institutions)."),
    ("subdivision", "ISO 3166-2 code of a sub-national actor ('US-MT'), else NULL."),
    ("level", "national | subnational | supranational."),
    ("app", "Canonical app or vendor name."),
    ("scope", "government_devices | nationwide | other."),
    ("action", "ban | proposed | lifted."),
    ("announced_on", "Best estimate of the announcement date (median of the sources)."),
    ("first_seen_at", "When banwatch first saw the event."),
    ("source_count", "Distinct outlets that reported the event."),
    ("confidence", "Calibrated confidence 0..1: the most confident source's."),
    ("evidence", "The most confident supporting sentence."),
    ("url", "The article the evidence comes from."),
    ("historical", "Announced before the recency window when first seen: never emailed."),
    ("body", "Acting body when it acts on its own ('European Parliament'), else ''."),
    ("status", "news (emailed) | historical (not emailed) | candidate (awaiting review)."),
]

EVENT_VIEW = """
CREATE OR REPLACE VIEW {name} AS
SELECT
    e.event_id, e.jurisdiction, e.country, e.subdivision, e.level, e.app, e.scope, e.action,
    e.announced_on, e.first_seen_at,
    count(DISTINCT s.outlet) AS source_count,
    e.confidence, e.evidence, e.url, e.historical, e.body, e.status
FROM events AS e
LEFT JOIN event_sources AS s USING (event_id)
WHERE {where}
GROUP BY ALL
"""


def m003_event_status(con: duckdb.DuckDBPyConnection) -> None:
    """Events get a status: `candidate` ones (confidence below alerts.min_confidence) are kept
    out of `ban_events` and the outbox, and listed in the `ban_event_candidates` view.

    Events stored before this migration were alerted under the old rule, so they are `news`
    (or `historical`), never candidates.
    """
    con.execute("ALTER TABLE events ADD COLUMN status VARCHAR DEFAULT 'news'")
    con.execute("UPDATE events SET status = CASE WHEN historical THEN 'historical' ELSE 'news' END")
    con.execute(
        "COMMENT ON COLUMN events.status IS "
        + _quote(
            "news: emailed | candidate: confidence below alerts.min_confidence, never emailed "
            "alone, listed in the digest and ban_event_candidates | historical: announced "
            "before the recency window when first seen, not emailed."
        )
    )
    con.execute(
        "COMMENT ON COLUMN events.confidence IS "
        + _quote("Calibrated confidence 0..1: the most confident source's (not combined).")
    )
    con.execute(
        "COMMENT ON TABLE alerts IS "
        + _quote("The alert outbox: one row per news event (status news), claimed before sending.")
    )
    views = {
        "ban_events": (
            "status <> 'candidate'",
            "Ban events for analysts (news and historical; candidates are in "
            "ban_event_candidates): one row per state of a situation, with source_count.",
        ),
        "ban_event_candidates": (
            "status = 'candidate'",
            "Candidate events: confidence below alerts.min_confidence, never emailed one by "
            "one; for analysts to confirm or reject. Same columns as ban_events.",
        ),
    }
    for name, (where, comment) in views.items():
        con.execute(EVENT_VIEW.format(name=name, where=where))
        con.execute(f"COMMENT ON VIEW {name} IS {_quote(comment)}")
        for column, col_comment in EVENT_VIEW_COLUMNS:
            con.execute(f"COMMENT ON COLUMN {name}.{column} IS {_quote(col_comment)}")


def m004_alert_refusals(con: duckdb.DuckDBPyConnection) -> None:
    """Classify SMTP refusals: count whole-message refusals per alert (bounded retries) and keep
    each recipient's outcome, so one refused address neither fails the alert for the others nor
    hides that it never got the email.
    """
    con.execute("ALTER TABLE alerts ADD COLUMN refusals INTEGER DEFAULT 0")
    con.execute("UPDATE alerts SET refusals = 0 WHERE refusals IS NULL")
    con.execute(
        "COMMENT ON COLUMN alerts.refusals IS "
        + _quote(
            "Times the server refused the whole email (5xx on MAIL/DATA, or every recipient "
            "5xx); at alerts.max_refusals the row becomes failed (banwatch alerts resend)."
        )
    )
    con.execute(
        "COMMENT ON COLUMN alerts.status IS "
        + _quote(
            "pending: due (also after a connection, TLS, login or 4xx error) | sending: claimed "
            "| sent: accepted for at least one recipient | failed: refused alerts.max_refusals "
            "times | skipped: dropped by an operator (banwatch alerts skip)."
        )
    )
    con.execute(
        "CREATE TABLE alert_recipients (event_id VARCHAR, recipient VARCHAR, status VARCHAR, "
        "smtp_code INTEGER, error VARCHAR, updated_at TIMESTAMPTZ, "
        "PRIMARY KEY (event_id, recipient))"
    )
    con.execute(
        "COMMENT ON TABLE alert_recipients IS "
        + _quote("Each alert's outcome per recipient address, as the SMTP server answered RCPT.")
    )
    for column, comment in (
        ("event_id", "The alert (alerts.event_id)."),
        ("recipient", "One address of alerts.recipients."),
        ("status", "accepted | refused (5xx: not retried unless resent) | deferred (4xx)."),
        ("smtp_code", "The server's reply code to RCPT (or to DATA when that refused it)."),
        ("error", "The server's reply text, else NULL."),
        ("updated_at", "When this outcome was recorded."),
    ):
        con.execute(f"COMMENT ON COLUMN alert_recipients.{column} IS {_quote(comment)}")


def m005_run_owner(con: duckdb.DuckDBPyConnection) -> None:
    """Which process runs a pass, so the next pass can tell a killed run from a live one."""
    columns = [
        ("pid", "INTEGER", "Process running the whole pass (banwatch run); NULL for Airflow."),
        ("host", "VARCHAR", "Host of that process."),
        (
            "process_started_at",
            "TIMESTAMPTZ",
            "Wall clock when the pass (or its latest retry) started; started_at is the run's time.",
        ),
    ]
    for name, decl, comment in columns:
        con.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
        con.execute(f"COMMENT ON COLUMN runs.{name} IS {_quote(comment)}")
    con.execute(
        "COMMENT ON COLUMN runs.status IS "
        + _quote(
            "running | finished | failed | aborted (interrupted: killed or timed out; marked "
            "by the next pass, reason in error)."
        )
    )


def m006_digests(con: duckdb.DuckDBPyConnection) -> None:
    """Record each day's digest, claimed before it is sent and marked after (like the outbox),
    so running the digest by hand and by schedule sends it once.
    """
    con.execute(
        "CREATE TABLE digests (day DATE PRIMARY KEY, status VARCHAR NOT NULL, "
        "attempts INTEGER NOT NULL DEFAULT 0, events INTEGER, candidates INTEGER, "
        "message_id VARCHAR, sent_at TIMESTAMPTZ, last_error VARCHAR)"
    )
    con.execute(
        "COMMENT ON TABLE digests IS "
        + _quote("One row per day whose digest email was claimed or sent (at most once a day).")
    )
    for column, comment in (
        ("day", "The day the digest covers (events first seen that UTC day)."),
        (
            "status",
            "sending: claimed, or left by a killed run (sent again next call) | pending: the "
            "last attempt failed (SMTP), retried next call | sent: never sent again.",
        ),
        ("attempts", "Times the digest was claimed for sending."),
        ("events", "News events listed in the last attempt."),
        ("candidates", "Candidates listed in the last attempt."),
        ("message_id", "Message-ID of the email."),
        ("sent_at", "When the SMTP server accepted it, else NULL."),
        ("last_error", "Why the last attempt failed, else NULL."),
    ):
        con.execute(f"COMMENT ON COLUMN digests.{column} IS {_quote(comment)}")


# ---------------------------------------------------------------- m007, m008: analysts' views

SILENT_DAYS = 7  # feed_health: a feed that answers but brought no new article this long is silent


def _comment_view(
    con: duckdb.DuckDBPyConnection, view: str, comment: str, columns: list[tuple[str, str]]
) -> None:
    """COMMENT the view and each of its columns (CREATE OR REPLACE VIEW drops them)."""
    con.execute(f"COMMENT ON VIEW {view} IS {_quote(comment)}")
    for column, col_comment in columns:
        con.execute(f"COMMENT ON COLUMN {view}.{column} IS {_quote(col_comment)}")


def _country_names() -> list[tuple[str, str]]:
    """(ISO 3166-1 alpha-2, English short name) from pycountry, plus 'EU' (EU institutions)."""
    import pycountry

    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    names["EU"] = "European Union"
    return sorted(names.items())


# The latest judgement of each reviewed event (m008): `seq` orders an event's judgements.
VERDICTS = "(SELECT event_id, arg_max(verdict, seq) AS verdict FROM judgements GROUP BY event_id)"

# ban_events and ban_event_candidates from m007 on: the m003 columns, then country_name
# (and, from m008, review); `{review}` is the column's expression, `{verdicts}` its join.
EVENT_VIEW_V2 = """
CREATE OR REPLACE VIEW {name} AS
SELECT
    e.event_id, e.jurisdiction, e.country, e.subdivision, e.level, e.app, e.scope, e.action,
    e.announced_on, e.first_seen_at,
    count(DISTINCT s.outlet) AS source_count,
    e.confidence, e.evidence, e.url, e.historical, e.body, e.status,
    c.name AS country_name{review}
FROM events AS e
LEFT JOIN event_sources AS s USING (event_id)
LEFT JOIN countries AS c ON c.code = e.country{verdicts}
WHERE {where}
GROUP BY ALL
"""

COUNTRY_NAME_COMMENT = (
    "country_name",
    "English name of the country (pycountry; 'European Union' for EU).",
)

SITUATIONS_VIEW = """
CREATE OR REPLACE VIEW situations AS
WITH states AS (
    SELECT e.*, (e.announced_on, e.first_seen_at, e.event_id) AS turn
    FROM events AS e{verdicts}
    WHERE {where}
)
SELECT
    s.country, any_value(c.name) AS country_name, s.subdivision, s.app, s.scope,
    coalesce(s.body, '') AS body,
    arg_max(s.jurisdiction, s.turn) AS jurisdiction,
    arg_max(s.level, s.turn) AS level,
    arg_max(s.action, s.turn) AS current_state,
    arg_max(s.announced_on, s.turn) AS since,
    arg_max(s.event_id, s.turn) AS current_event_id,
    arg_min(s.action, s.turn) AS first_action,
    arg_min(s.announced_on, s.turn) AS first_announced_on,
    list({{'action': s.action, 'announced_on': s.announced_on, 'event_id': s.event_id}}
         ORDER BY s.turn) AS history,
    list(s.action ORDER BY s.turn) AS actions,
    count(*) AS event_count
FROM states AS s
LEFT JOIN countries AS c ON c.code = s.country
GROUP BY s.country, s.subdivision, s.app, s.scope, coalesce(s.body, '')
"""

SITUATIONS_COLUMNS: list[tuple[str, str]] = [
    ("country", "ISO 3166-1 alpha-2 of the country ('EU' for EU institutions)."),
    COUNTRY_NAME_COMMENT,
    ("subdivision", "ISO 3166-2 code of a sub-national actor ('US-MT'), else NULL."),
    ("app", "Canonical app or vendor name."),
    ("scope", "government_devices | nationwide | other."),
    ("body", "Acting body when it acts on its own ('European Parliament'), else ''."),
    ("jurisdiction", "Who acted, in words, as of the current state."),
    ("level", "national | subnational | supranational, as of the current state."),
    ("current_state", "Action of the latest event (by announced_on): ban | proposed | lifted."),
    ("since", "announced_on of that latest event: in this state since then."),
    ("current_event_id", "event_id of that latest event (join ban_events / event_sources)."),
    ("first_action", "Action of the situation's first known event."),
    ("first_announced_on", "announced_on of the situation's first known event."),
    ("history", "Every state in order: LIST of STRUCT(action, announced_on, event_id)."),
    ("actions", "history's actions in order, e.g. [proposed, ban, lifted]."),
    ("event_count", "Events (state changes) known for the situation."),
]

FEED_HEALTH_VIEW = f"""
CREATE OR REPLACE VIEW feed_health AS
SELECT
    name, url, last_outcome, failure_count, last_polled_at, last_success_at,
    last_new_article_at,
    CASE
        WHEN last_outcome IN ('hard', 'temporary') THEN 'failing'
        WHEN last_polled_at IS NOT NULL AND coalesce(last_new_article_at, TIMESTAMPTZ '-infinity')
             < last_polled_at - INTERVAL {SILENT_DAYS} DAY THEN 'silent'
        ELSE 'ok'
    END AS health
FROM feeds
"""

FEED_HEALTH_COLUMNS: list[tuple[str, str]] = [
    ("name", "Feed name from the config file."),
    ("url", "Feed URL as configured."),
    ("last_outcome", "Outcome of the last poll: ok | not_modified | soft | hard | temporary."),
    ("failure_count", "Consecutive failed polls (hard or temporary); 0 after a success."),
    ("last_polled_at", "When the feed was last polled."),
    ("last_success_at", "Last poll that answered ok or not_modified (304); NULL if none."),
    (
        "last_new_article_at",
        "Last poll that brought an article banwatch had not seen; NULL if none.",
    ),
    (
        "health",
        f"failing: the last poll failed (hard or temporary) | silent: it answers but brought no "
        f"new article in the {SILENT_DAYS} days before its last poll (or never) | ok.",
    ),
]


def _event_views(con: duckdb.DuckDBPyConnection, *, reviewed: bool) -> None:
    """(Re)create ban_events, ban_event_candidates and situations, with every COMMENT."""
    verdicts = f"\nLEFT JOIN {VERDICTS} AS r USING (event_id)" if reviewed else ""
    shown = "e.status <> 'candidate'"
    candidate = "e.status = 'candidate'"
    if reviewed:  # a confirmed candidate joins ban_events; a rejected event leaves every view
        shown = f"({shown} OR r.verdict = 'confirmed') AND r.verdict IS DISTINCT FROM 'rejected'"
        candidate = f"{candidate} AND r.verdict IS NULL"
    columns = [*EVENT_VIEW_COLUMNS, COUNTRY_NAME_COMMENT]
    if reviewed:
        columns.append(
            ("review", "confirmed: an analyst confirmed it (banwatch review) | NULL: not reviewed.")
        )
        columns = [
            (c, "news (emailed) | historical (not emailed) | candidate (below "
             "alerts.min_confidence, never emailed; in ban_events once confirmed).")
            if c == "status" else (c, text)
            for c, text in columns
        ]  # fmt: skip
    views = {
        "ban_events": (
            shown,
            "Ban events for analysts (news and historical, and candidates an analyst confirmed; "
            "rejected events are left out): one row per state of a situation, with "
            "source_count.",
        ),
        "ban_event_candidates": (
            candidate,
            "Candidate events awaiting review: confidence below alerts.min_confidence, never "
            "emailed one by one; banwatch review EVENT_ID --confirm | --reject. Same columns "
            "as ban_events.",
        ),
    }
    review = ", r.verdict AS review" if reviewed else ""
    for name, (where, comment) in views.items():
        sql = EVENT_VIEW_V2.format(name=name, where=where, review=review, verdicts=verdicts)
        con.execute(sql)
        _comment_view(con, name, comment, columns)
    con.execute(SITUATIONS_VIEW.format(verdicts=verdicts, where=shown))
    _comment_view(
        con,
        "situations",
        "One row per situation (country, subdivision, app, scope, acting body) of the events "
        "in ban_events: its current state, since when, and its history.",
        SITUATIONS_COLUMNS,
    )


def m007_situations_and_feed_health(con: duckdb.DuckDBPyConnection) -> None:
    """Country names (`countries`), the `situations` and `feed_health` views, and when each feed
    last answered and last brought a new article, so a feed that answers 200 but died is seen.
    """
    for column, comment in (
        ("last_success_at", "Last poll that answered ok or not_modified (304); NULL if none."),
        (
            "last_new_article_at",
            "Last poll that brought an article banwatch had not seen before; NULL if none.",
        ),
    ):
        con.execute(f"ALTER TABLE feeds ADD COLUMN {column} TIMESTAMPTZ")
        con.execute(f"COMMENT ON COLUMN feeds.{column} IS {_quote(comment)}")
    # Best estimates for feeds polled before: the last poll if it succeeded; the last article.
    con.execute(
        "UPDATE feeds SET last_success_at = CASE WHEN last_outcome IN ('ok', 'not_modified') "
        "THEN last_polled_at END, last_new_article_at = (SELECT max(a.fetched_at) FROM articles "
        "AS a WHERE a.feed_name = feeds.name)"
    )
    con.execute("CREATE TABLE countries (code VARCHAR PRIMARY KEY, name VARCHAR NOT NULL)")
    rows = _country_names()
    con.execute(
        "INSERT INTO countries VALUES " + ", ".join(["(?, ?)"] * len(rows)),
        [v for row in rows for v in row],
    )
    con.execute(
        "COMMENT ON TABLE countries IS "
        + _quote("ISO 3166-1 countries (pycountry) and 'EU', for names beside codes.")
    )
    con.execute("COMMENT ON COLUMN countries.code IS " + _quote("ISO 3166-1 alpha-2, or 'EU'."))
    con.execute("COMMENT ON COLUMN countries.name IS " + _quote("English short name."))
    con.execute(FEED_HEALTH_VIEW)
    _comment_view(
        con,
        "feed_health",
        "One row per feed: is it failing, silent (answers, but nothing new) or ok.",
        FEED_HEALTH_COLUMNS,
    )
    _event_views(con, reviewed=False)


def m008_judgements(con: duckdb.DuckDBPyConnection) -> None:
    """Analysts' judgements of events (`banwatch review`): the latest one per event wins; a
    rejected event leaves ban_events, ban_event_candidates and situations.
    """
    con.execute(
        "CREATE TABLE judgements (event_id VARCHAR NOT NULL, seq INTEGER NOT NULL, "
        "verdict VARCHAR NOT NULL, note VARCHAR, reviewer VARCHAR, "
        "judged_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (event_id, seq))"
    )
    con.execute(
        "COMMENT ON TABLE judgements IS "
        + _quote("Analysts' judgements of events (banwatch review); the latest per event wins.")
    )
    for column, comment in (
        ("event_id", "The event judged (events.event_id)."),
        ("seq", "1 for the event's first judgement, 2 for the next...: the highest wins."),
        ("verdict", "confirmed | rejected."),
        ("note", "The analyst's note, else NULL."),
        ("reviewer", "Who judged ($USER of the banwatch review command)."),
        ("judged_at", "When."),
    ):
        con.execute(f"COMMENT ON COLUMN judgements.{column} IS {_quote(comment)}")
    _event_views(con, reviewed=True)


def m009_article_signatures(con: duckdb.DuckDBPyConnection) -> None:
    """Each embedding gets its article's story signature, computed once at load (never again per
    pass), and a sequence number: the stories index (enrich/story_index.py) keys its items by it
    and compares its high-water mark with the warehouse to catch up after a killed pass.

    Rows stored before this migration get sequence numbers here; their signatures are filled
    lazily, the first time a pass reads them.
    """
    columns = [
        (
            "signature",
            "VARCHAR",
            "Story signature (places and apps of title + first sentence) as JSON; NULL until "
            "first computed.",
        ),
        ("seq", "BIGINT", "Load order, unique: the stories index's item key and high-water mark."),
    ]
    for name, decl, comment in columns:
        con.execute(f"ALTER TABLE article_embeddings ADD COLUMN {name} {decl}")
        con.execute(f"COMMENT ON COLUMN article_embeddings.{name} IS {_quote(comment)}")
    con.execute(
        "UPDATE article_embeddings SET seq = r.n FROM (SELECT article_id, model, "
        "row_number() OVER (ORDER BY article_id, model) AS n FROM article_embeddings) AS r "
        "WHERE article_embeddings.article_id = r.article_id AND article_embeddings.model = r.model"
    )


MIGRATIONS: list[Migration] = [
    m001_initial,
    m002_run_errors,
    m003_event_status,
    m004_alert_refusals,
    m005_run_owner,
    m006_digests,
    m007_situations_and_feed_health,
    m008_judgements,
    m009_article_signatures,
]


def applied_migrations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Names of the migrations already applied, in the order they were applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
    )
    rows = con.execute("SELECT name FROM schema_migrations ORDER BY applied_at, name").fetchall()
    return [name for (name,) in rows]


def migrate(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply the migrations not applied yet, each in its own transaction; return their names."""
    done = set(applied_migrations(con))
    applied: list[str] = []
    for migration in MIGRATIONS:
        name = migration.__name__
        if name in done:
            continue
        con.begin()
        try:
            migration(con)
            con.execute("INSERT INTO schema_migrations VALUES (?, current_timestamp)", [name])
            con.commit()
        except Exception:
            con.rollback()
            raise
        logger.info("applied migration %s", name)
        applied.append(name)
    return applied
