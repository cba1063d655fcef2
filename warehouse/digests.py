"""The `digests` table: each day's digest email is claimed before it is sent and marked after.

Like the alert outbox (`warehouse.outbox`), every function commits before it returns, so a day's
digest is sent at least once and never twice once `sent` (`pipeline.daily_digest` drives it).
"""

from __future__ import annotations

import datetime as dt

import duckdb


def claim_digest(con: duckdb.DuckDBPyConnection, day: dt.date) -> bool:
    """Mark `day`'s digest `sending` (committed) before it goes out; False if already sent.

    Like `warehouse.outbox.claim_alert`: a crash after the send leaves it `sending`, so it is
    sent again (at least once), never skipped; a sent one is never sent twice.
    """
    con.begin()
    try:
        con.execute(
            "INSERT INTO digests (day, status) VALUES (?, 'pending') ON CONFLICT DO NOTHING",
            [day],
        )
        row = con.execute(
            "UPDATE digests SET status = 'sending', attempts = attempts + 1, last_error = NULL "
            "WHERE day = ? AND status IN ('pending', 'sending') RETURNING attempts",
            [day],
        ).fetchone()
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return row is not None


def digest_done(
    con: duckdb.DuckDBPyConnection,
    day: dt.date,
    counts: tuple[int, int],
    message_id: str,
    error: str | None,
) -> None:
    """Record the attempt's outcome (one statement, committed): `sent`, or `pending` to retry."""
    con.execute(
        "UPDATE digests SET status = ?, events = ?, candidates = ?, message_id = ?, "
        "last_error = ?, sent_at = CASE WHEN ? IS NULL THEN current_timestamp END WHERE day = ?",
        [
            "pending" if error else "sent",
            counts[0],
            counts[1],
            message_id,
            error[:1000] if error else None,
            error,
            day,
        ],
    )
