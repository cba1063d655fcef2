"""The alert outbox (`alerts` table): claim, mark sent, mark for retry, and the email's payload.

Every function here is one autocommitted statement, so each state change of a row is durable
the moment it returns: a row is claimed (`sending`) before its email goes out and marked `sent`
right after, and a crash in between leaves it `sending`, to be sent again next pass.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import duckdb

from banwatch.records import Event
from warehouse.read import EVENT_COLUMNS, event_from_row

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5  # a temporary failure is retried this many times (one per pass), then 'failed'


def outbox_event_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Events whose email is due: pending, or left `sending` by a killed pass (oldest first)."""
    rows = con.execute(
        "SELECT event_id FROM alerts WHERE status IN ('pending', 'sending') "
        "ORDER BY queued_at, event_id"
    ).fetchall()
    return [r[0] for r in rows]


def outbox_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per status."""
    return dict(con.execute("SELECT status, count(*) FROM alerts GROUP BY status").fetchall())


def claim_alert(con: duckdb.DuckDBPyConnection, event_id: str) -> int | None:
    """Mark the row `sending` and count the attempt (committed); None if it is not due."""
    row = con.execute(
        "UPDATE alerts SET status = 'sending', attempts = attempts + 1 "
        "WHERE event_id = ? AND status IN ('pending', 'sending') RETURNING attempts",
        [event_id],
    ).fetchone()
    return row[0] if row else None


def mark_sent(
    con: duckdb.DuckDBPyConnection,
    event_id: str,
    message_id: str,
    sent_at: dt.datetime | None = None,
) -> None:
    """The SMTP server accepted the email: never send it again."""
    con.execute(
        "UPDATE alerts SET status = 'sent', message_id = ?, last_error = NULL, "
        "sent_at = coalesce(?, current_timestamp) WHERE event_id = ?",
        [message_id, sent_at, event_id],
    )


def mark_unsent(
    con: duckdb.DuckDBPyConnection, event_id: str, error: str, *, permanent: bool
) -> str:
    """Back to `pending` (retried next pass) or, when permanent or out of attempts, `failed`."""
    (status,) = con.execute(
        "UPDATE alerts SET last_error = ?, status = CASE WHEN ? OR attempts >= ? "
        "THEN 'failed' ELSE 'pending' END WHERE event_id = ? RETURNING status",
        [error[:1000], permanent, MAX_ATTEMPTS, event_id],
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
    """The event and its sources (with the articles' titles) for composing its email."""
    row = con.execute(
        f"SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?", [event_id]
    ).fetchone()
    if row is None:
        raise KeyError(event_id)
    cursor = con.execute(
        "SELECT s.outlet, s.url, a.title, a.published_at, s.announced_on, s.evidence, "
        "s.confidence FROM event_sources AS s LEFT JOIN articles AS a USING (article_id) "
        "WHERE s.event_id = ? ORDER BY s.confidence DESC, a.published_at NULLS LAST, s.url",
        [event_id],
    )
    columns = [d[0] for d in cursor.description]
    sources = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    return event_from_row(row, len({s["outlet"] for s in sources}) or 1), sources
