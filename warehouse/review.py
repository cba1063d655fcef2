"""Analysts' judgements of events (`banwatch review`): record, list, export as labelled rows.

A judgement is a row of `judgements` (m008); the latest one per event wins, so a second
`--confirm` undoes a `--reject`. What a verdict changes:

- rejected: the event leaves `ban_events`, `ban_event_candidates` and `situations` (the views
  filter on the latest verdict; the `events` row stays, so later coverage of the same event
  joins it as a source instead of starting a new event). Its unsent alert is `skipped` now,
  `warehouse.load.apply_resolution` never queues it again, and the outbox never sends it.
- confirmed: recorded, and shown in the views' `review` column; a confirmed candidate moves from
  `ban_event_candidates` to `ban_events` and counts in `situations`. Nothing is emailed.

`export_judgements` writes the latest judgement of each event with the event's fields and its
evidence article (id, url, title, text), as JSONL or CSV: the format
`scripts/train_detector.py --judgements FILE` reads (`enrich.detect.training.read_judgements`).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from banwatch.errors import BanwatchError
from banwatch.records import Verdict

logger = logging.getLogger(__name__)

VERDICTS = tuple(v.value for v in Verdict)

# The latest judgement of each event (the highest seq).
_LATEST = (
    "SELECT * FROM judgements AS j WHERE seq = "
    "(SELECT max(seq) FROM judgements AS k WHERE k.event_id = j.event_id)"
)


class ReviewError(BanwatchError):
    """A judgement cannot be recorded (unknown event, bad verdict) or exported."""


def rejected_event_ids(con: duckdb.DuckDBPyConnection, event_ids: Sequence[str]) -> set[str]:
    """Which of `event_ids` an analyst rejected (their latest judgement is `rejected`)."""
    if not event_ids:
        return set()
    rows = con.execute(
        f"SELECT event_id FROM ({_LATEST}) WHERE verdict = 'rejected' "
        "AND list_contains(?, event_id)",
        [list(event_ids)],
    ).fetchall()
    return {r[0] for r in rows}


def judge(
    con: duckdb.DuckDBPyConnection,
    event_id: str,
    verdict: str,
    *,
    reviewer: str,
    note: str | None = None,
    judged_at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Record a verdict on `event_id` (one transaction, committed); a rejection also skips the
    event's unsent alert. Returns the event's description, the previous verdict and the alert
    status it had when one was skipped.
    """
    if verdict not in VERDICTS:
        raise ReviewError(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    row = con.execute(
        "SELECT jurisdiction, app, scope, action, announced_on, status FROM events "
        "WHERE event_id = ?",
        [event_id],
    ).fetchone()
    if row is None:
        raise ReviewError(
            f"no event {event_id!r} in the warehouse; `banwatch events --all` and "
            "`banwatch events --candidates` list event ids"
        )
    jurisdiction, app, scope, action, announced_on, status = row
    con.begin()
    try:
        previous = con.execute(
            f"SELECT verdict FROM ({_LATEST}) WHERE event_id = ?", [event_id]
        ).fetchone()
        con.execute(
            "INSERT INTO judgements SELECT ?, coalesce(max(seq), 0) + 1, ?, ?, ?, "
            "coalesce(?, current_timestamp) FROM judgements WHERE event_id = ?",
            [event_id, verdict, note, reviewer, judged_at, event_id],
        )
        skipped = None
        if verdict == "rejected":
            hit = con.execute(
                "UPDATE alerts SET status = 'skipped', last_error = ? WHERE event_id = ? "
                "AND status IN ('pending', 'sending') RETURNING 1",
                [f"rejected in review by {reviewer}", event_id],
            ).fetchone()
            skipped = hit is not None
        con.commit()
    except BaseException:
        con.rollback()
        raise
    logger.info("event %s %s by %s", event_id, verdict, reviewer)
    return {
        "event_id": event_id,
        "event": f"{jurisdiction} · {app} · {scope} · {action} ({announced_on})",
        "status": status,
        "verdict": verdict,
        "previous": previous[0] if previous else None,
        "alert_skipped": bool(skipped),
    }


LIST_COLUMNS = (
    "event_id",
    "verdict",
    "current",
    "judged_at",
    "reviewer",
    "note",
    "jurisdiction",
    "app",
    "scope",
    "action",
    "announced_on",
    "status",
)


def list_judgements(
    con: duckdb.DuckDBPyConnection, event_id: str | None = None
) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """Every judgement (of one event, if given), newest first; `current` marks the latest one
    of each event, the one that counts."""
    rows = con.execute(
        "SELECT j.event_id, j.verdict, j.seq = max(j.seq) OVER (PARTITION BY j.event_id), "
        "j.judged_at, j.reviewer, j.note, e.jurisdiction, e.app, e.scope, e.action, "
        "e.announced_on, e.status FROM judgements AS j LEFT JOIN events AS e USING (event_id) "
        "WHERE ? IS NULL OR j.event_id = ? ORDER BY j.judged_at DESC, j.event_id, j.seq DESC",
        [event_id, event_id],
    ).fetchall()
    return LIST_COLUMNS, rows


EXPORT_SQL = f"""
SELECT
    j.event_id, j.verdict, j.note, j.reviewer, j.judged_at,
    e.jurisdiction, e.country, e.subdivision, e.level, e.app, e.scope, e.body, e.action,
    e.announced_on, e.first_seen_at, e.confidence, e.status, e.evidence,
    a.article_id, e.url, a.title, a.text, a.published_at, a.language
FROM ({_LATEST}) AS j
JOIN events AS e USING (event_id)
LEFT JOIN articles AS a ON a.url = e.url
ORDER BY j.event_id
"""


def export_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The latest judgement of each event, with the event's fields and its evidence article."""
    cursor = con.execute(EXPORT_SQL)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def export_judgements(con: duckdb.DuckDBPyConnection, out: str | Path) -> int:
    """Write the labelled rows to `out`: CSV when it ends in .csv, else JSON lines. Returns rows."""
    path = Path(out)
    rows = export_rows(con)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            if path.suffix.lower() == ".csv":
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else EXPORT_FIELDS)
                writer.writeheader()
                writer.writerows({k: _plain(v) for k, v in r.items()} for r in rows)
            else:
                for r in rows:
                    fh.write(json.dumps({k: _plain(v) for k, v in r.items()}) + "\n")
    except OSError as exc:
        raise ReviewError(
            f"{path}: cannot write the export ({exc.strerror or exc}); pass --out with a file "
            "in a writable directory"
        ) from None
    return len(rows)


EXPORT_FIELDS = [
    "event_id",
    "verdict",
    "note",
    "reviewer",
    "judged_at",
    "jurisdiction",
    "country",
    "subdivision",
    "level",
    "app",
    "scope",
    "body",
    "action",
    "announced_on",
    "first_seen_at",
    "confidence",
    "status",
    "evidence",
    "article_id",
    "url",
    "title",
    "text",
    "published_at",
    "language",
]
