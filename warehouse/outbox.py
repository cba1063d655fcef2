"""The alert outbox (`alerts` table): claim, mark sent, mark for retry, and the email's payload.

Every function here commits before it returns (one statement, or one transaction), so each
state change of a row is durable the moment it returns: a row is claimed (`sending`) before its
email goes out and marked `sent` right after, and a crash in between leaves it `sending`, to be
sent again next pass. `alert_recipients` keeps who accepted it, so a retry or a resend never
sends it twice to the same address (the crash window aside).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import duckdb
from banwatch.warehouse.read import EVENT_COLUMNS, event_from_row

from banwatch.errors import AlertError
from banwatch.faults import checkpoint
from banwatch.records import AlertStatus, Event

logger = logging.getLogger(__name__)

RECIPIENT_STATUSES = ("accepted", "refused", "deferred")
ALERT_STATUSES = tuple(s.value for s in AlertStatus)

# Events whose latest judgement (banwatch review, table judgements) is a rejection.
_REJECTED = (
    "SELECT event_id FROM judgements GROUP BY event_id HAVING arg_max(verdict, seq) = 'rejected'"
)

# One recipient's outcome: (status, SMTP code or None, the server's text or None).
Outcome = tuple[str, int | None, str | None]


def outbox_event_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Events whose email is due: pending, or left `sending` by a killed pass (oldest first).

    An event an analyst rejected is never due (`banwatch review --reject` skips its row too).
    """
    rows = con.execute(
        "SELECT event_id FROM alerts WHERE status IN ('pending', 'sending') "
        f"AND event_id NOT IN ({_REJECTED}) ORDER BY queued_at, event_id"
    ).fetchall()
    return [r[0] for r in rows]


def outbox_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per status."""
    return dict(con.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())


def recipients_due(
    con: duckdb.DuckDBPyConnection, event_id: str, configured: list[str]
) -> list[str]:
    """Configured recipients still owed this email, in config order.

    Accepted ones never get it twice. Refused ones (5xx) are skipped while others still need
    it; when only they remain, the email is being retried as a whole, so they are tried again.
    """
    known = dict(
        con.execute(
            "SELECT recipient, status FROM alert_recipients WHERE event_id = ?", [event_id]
        ).fetchall()
    )
    todo = [r for r in configured if known.get(r) not in ("accepted", "refused")]
    return todo or [r for r in configured if known.get(r) != "accepted"]


def claim_alert(con: duckdb.DuckDBPyConnection, event_id: str) -> int | None:
    """Mark the row `sending` and count the attempt (committed); None if it is not due."""
    row = con.execute(
        "UPDATE alerts SET status = 'sending', attempts = attempts + 1 "
        "WHERE event_id = ? AND status IN ('pending', 'sending') RETURNING attempts",
        [event_id],
    ).fetchone()
    return row[0] if row else None


def _record(con: duckdb.DuckDBPyConnection, event_id: str, outcomes: dict[str, Outcome]) -> None:
    for recipient, (status, code, text) in outcomes.items():
        con.execute(
            "INSERT INTO alert_recipients VALUES (?, ?, ?, ?, ?, current_timestamp) "
            "ON CONFLICT DO UPDATE SET status = excluded.status, smtp_code = excluded.smtp_code, "
            "error = excluded.error, updated_at = excluded.updated_at",
            [event_id, recipient, status, code, text[:500] if text else None],
        )


def record_delivery(
    con: duckdb.DuckDBPyConnection,
    event_id: str,
    message_id: str,
    outcomes: dict[str, Outcome],
    *,
    error: str | None = None,
) -> str:
    """The server accepted the email for some recipients: record each one's outcome and, unless
    one was deferred (4xx, owed it next pass), mark the row `sent`; one transaction, so a crash
    never forgets who already has it. Returns the row's new status.
    """
    checkpoint("alerts:accepted")  # test hook: the documented at-least-once window
    deferred = any(status == "deferred" for status, _, _ in outcomes.values())
    status = "pending" if deferred else "sent"
    con.begin()
    try:
        _record(con, event_id, outcomes)
        con.execute(
            "UPDATE alerts SET status = ?, message_id = ?, last_error = ?, "
            "sent_at = CASE WHEN ? = 'sent' THEN current_timestamp ELSE sent_at END "
            "WHERE event_id = ?",
            [status, message_id, error[:1000] if error else None, status, event_id],
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return status


def mark_sent(
    con: duckdb.DuckDBPyConnection,
    event_id: str,
    message_id: str,
    sent_at: dt.datetime | None = None,
) -> None:
    """The SMTP server accepted the email: never send it again."""
    checkpoint("alerts:accepted")  # test hook: the documented at-least-once window
    con.execute(
        "UPDATE alerts SET status = 'sent', message_id = ?, last_error = NULL, "
        "sent_at = coalesce(?, current_timestamp) WHERE event_id = ?",
        [message_id, sent_at, event_id],
    )


def mark_unsent(
    con: duckdb.DuckDBPyConnection,
    event_id: str,
    error: str,
    outcomes: dict[str, Outcome] | None = None,
) -> None:
    """A temporary or configuration error (connect, TLS, login, 4xx): back to `pending`."""
    _record(con, event_id, outcomes or {})
    con.execute(
        "UPDATE alerts SET status = 'pending', last_error = ? WHERE event_id = ?",
        [error[:1000], event_id],
    )


def mark_refused(
    con: duckdb.DuckDBPyConnection,
    event_id: str,
    error: str,
    max_refusals: int,
    outcomes: dict[str, Outcome] | None = None,
) -> str:
    """The server refused the whole email (5xx): `pending` for another pass until
    `max_refusals`, then `failed` (until `banwatch alerts resend`). Returns the new status."""
    _record(con, event_id, outcomes or {})
    (status,) = con.execute(
        "UPDATE alerts SET last_error = ?, refusals = coalesce(refusals, 0) + 1, "
        "status = CASE WHEN coalesce(refusals, 0) + 1 >= ? THEN 'failed' ELSE 'pending' END "
        "WHERE event_id = ? RETURNING status",
        [error[:1000], max_refusals, event_id],
    ).fetchone()
    return status


def note_error(con: duckdb.DuckDBPyConnection, event_ids: list[str], error: str) -> None:
    """Record why due rows could not be sent this pass, without counting an attempt."""
    if event_ids:
        con.execute(
            "UPDATE alerts SET last_error = ? WHERE list_contains(?, event_id)",
            [error[:1000], event_ids],
        )


def alert_payload(
    con: duckdb.DuckDBPyConnection, event_id: str
) -> tuple[Event, list[dict[str, Any]]]:
    """The event and its sources (with the articles' site names, titles and texts, for the
    outlet's name and the best sentence to quote) for composing its email."""
    row = con.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?", [event_id]
    ).fetchone()
    if row is None:
        raise KeyError(event_id)
    cursor = con.execute(
        "SELECT s.outlet, a.site_name, s.url, a.title, a.text, a.published_at, s.announced_on, "
        "s.evidence, s.confidence FROM event_sources AS s "
        "LEFT JOIN articles AS a USING (article_id) WHERE s.event_id = ? "
        "ORDER BY s.confidence DESC, a.published_at NULLS LAST, s.url",
        [event_id],
    )
    columns = [d[0] for d in cursor.description]
    sources = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    return event_from_row(row, len({s["outlet"] for s in sources}) or 1), sources


def previous_state(con: duckdb.DuckDBPyConnection, event: Event) -> Event | None:
    """The situation's state before `event` (same country, subdivision, app, scope and body,
    announced earlier), so the email can say what changed; None when none is stored. A state an
    analyst rejected is not one."""
    row = con.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id <> ? AND country = ? "
        f"AND event_id NOT IN ({_REJECTED}) "
        "AND subdivision IS NOT DISTINCT FROM ? AND app = ? AND scope = ? "
        "AND body IS NOT DISTINCT FROM ? "
        "AND announced_on < ? ORDER BY announced_on DESC, first_seen_at DESC LIMIT 1",
        [
            event.event_id,
            event.country,
            event.subdivision,
            event.app,
            event.scope,
            event.body,
            event.announced_on,
        ],
    ).fetchone()
    return event_from_row(row) if row else None


# ---------------------------------------------------------------- operators' commands

LIST_COLUMNS = (
    "event_id",
    "status",
    "attempts",
    "refusals",
    "jurisdiction",
    "app",
    "action",
    "not_delivered_to",
    "last_error",
)


def list_alerts(
    con: duckdb.DuckDBPyConnection, status: str | None = None
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The outbox for `banwatch alerts list`: oldest first, with who has not got each email."""
    rows = con.execute(
        "SELECT a.event_id, a.status, a.attempts, coalesce(a.refusals, 0), e.jurisdiction, "
        "e.app, e.action, (SELECT string_agg(r.recipient || ' (' || r.status || "
        "coalesce(' ' || r.smtp_code, '') || ')', ', ' ORDER BY r.recipient) "
        "FROM alert_recipients AS r WHERE r.event_id = a.event_id AND r.status <> 'accepted'), "
        "a.last_error FROM alerts AS a LEFT JOIN events AS e USING (event_id) "
        "WHERE ? IS NULL OR a.status = ? ORDER BY a.queued_at, a.event_id",
        [status, status],
    ).fetchall()
    return LIST_COLUMNS, rows


def _status_of(con: duckdb.DuckDBPyConnection, event_id: str) -> str:
    row = con.execute("SELECT status FROM alerts WHERE event_id = ?", [event_id]).fetchone()
    if row is None:
        raise AlertError(f"no alert for event {event_id}; `banwatch alerts list` shows the outbox")
    return row[0]


def resend(con: duckdb.DuckDBPyConnection, event_id: str) -> str:
    """Queue an alert again for the next pass; returns its former status.

    Its refusals are forgotten, so it goes to every configured recipient that has not accepted
    it; one that no recipient refused goes to all of them again (same Message-ID).
    """
    before = _status_of(con, event_id)
    if con.execute(f"SELECT 1 FROM ({_REJECTED}) WHERE event_id = ?", [event_id]).fetchone():
        raise AlertError(
            f"event {event_id} was rejected in review, so its alert is never sent; "
            f"`banwatch review {event_id} --confirm` first if it is real"
        )
    if before in ("pending", "sending"):
        return before
    con.begin()
    try:
        (owed,) = con.execute(
            "SELECT count(*) FROM alert_recipients WHERE event_id = ? AND status <> 'accepted'",
            [event_id],
        ).fetchone()
        # Forget the refusals; when nobody was refused, forget the acceptances: send to all.
        con.execute(
            "DELETE FROM alert_recipients WHERE event_id = ?"
            + (" AND status <> 'accepted'" if owed else ""),
            [event_id],
        )
        con.execute(
            "UPDATE alerts SET status = 'pending', refusals = 0 WHERE event_id = ?", [event_id]
        )
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return before


def failed_event_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Alerts whose email was refused `alerts.max_refusals` times (oldest first)."""
    rows = con.execute(
        "SELECT event_id FROM alerts WHERE status = 'failed' ORDER BY queued_at, event_id"
    ).fetchall()
    return [r[0] for r in rows]


def skip(con: duckdb.DuckDBPyConnection, event_id: str) -> str:
    """Drop an unsent alert for good (`skipped`); returns its former status."""
    before = _status_of(con, event_id)
    if before == "sent":
        raise AlertError(
            f"alert {event_id} was already sent; nothing to skip "
            "(`banwatch alerts list` shows who did not get it)"
        )
    con.execute("UPDATE alerts SET status = 'skipped' WHERE event_id = ?", [event_id])
    return before


OLD_NEWS = "old news"  # how `skip_old_news` starts its last_error (alerts list shows it)


def skip_old_news(con: duckdb.DuckDBPyConnection, recency_days: int) -> list[str]:
    """Skip due alerts of events that were old news when a pass first saw them; their ids.

    `alerts.recency_days` decides at first sight, and first sight is the `now` of the first
    pass that loaded one of the event's sources (`runs.started_at`), not the event's
    `first_seen_at`: `banwatch run --replay` sets that to publication times, so a backfill
    of 2016 pages queues events that were news in 2016. Without this they would be emailed
    by the replay itself or, after `--no-alerts`, by the next pass, a resend or anything else
    that puts the row back to pending. Such a row becomes `skipped` (one statement), with the
    reason in `last_error`; it is never emailed. Events with no recorded pass are left alone.
    """
    rows = con.execute(
        # Only due alerts' events: the first-pass times are not computed over all history.
        "WITH first_pass AS (SELECT s.event_id, min(r.started_at) AS at FROM event_sources AS s "
        "JOIN articles AS ar ON ar.article_id = s.article_id "
        "JOIN runs AS r ON r.run_id = ar.run_id "
        "WHERE s.event_id IN (SELECT event_id FROM alerts WHERE status IN ('pending', 'sending')) "
        "GROUP BY s.event_id) "
        "UPDATE alerts SET status = 'skipped', last_error = ? || ': announced ' || "
        "strftime(e.announced_on, '%Y-%m-%d') || ', first seen by the pass of ' || "
        "strftime(f.at, '%Y-%m-%d') || ' (more than alerts.recency_days = ' || ? || "
        "' days later); never emailed' "
        "FROM events AS e, first_pass AS f "
        "WHERE alerts.event_id = e.event_id AND f.event_id = e.event_id "
        "AND alerts.status IN ('pending', 'sending') AND e.announced_on IS NOT NULL "
        "AND date_diff('day', e.announced_on, CAST(f.at AS DATE)) > ? "
        "RETURNING alerts.event_id",
        [OLD_NEWS, recency_days, recency_days],
    ).fetchall()
    ids = sorted(r[0] for r in rows)
    if ids:
        logger.warning(
            "%d alerts skipped: old news when first seen (alerts.recency_days = %d)",
            len(ids),
            recency_days,
        )
    return ids
