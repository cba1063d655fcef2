"""Running the real pipeline for a bench: config file, `banwatch run` subprocess, what it stored.

Shared by `bench.eval_events` (e2e mode) and `bench.realpages`. The pass runs in a child
process exactly as a user runs it (`python -m banwatch.cli run --config FILE`), so the bench
measures the installed command, not a function called with bench-friendly arguments.

Reading events works with both warehouse layouts: the `ban_events` view alone (every event,
`historical` flag), and the later one with an events `status` column ('news' | 'candidate' |
'historical') and a `ban_event_candidates` view beside `ban_events`; both views are read
when they exist and an event is counted once.
"""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import tomli_w

logger = logging.getLogger(__name__)

EVENT_COLUMNS = (
    "event_id", "country", "subdivision", "app", "scope", "action", "announced_on",
    "confidence", "evidence", "url", "historical", "status",
)  # fmt: skip
CANDIDATES_VIEW = "ban_event_candidates"


@dataclass(frozen=True)
class FeedEntry:
    """One `[[feeds]]` table of the generated config."""

    name: str
    url: str
    country: str | None = None


@dataclass
class StoredEvent:
    """An event as the warehouse holds it, with its sources' URLs and the emails it got."""

    event_id: str
    country: str
    subdivision: str | None
    app: str
    scope: str
    action: str
    announced_on: dt.date | None
    confidence: float
    evidence: str
    url: str | None
    status: str  # news | candidate | historical
    source_urls: set[str] = field(default_factory=set)
    emails: int = 0


def write_config(
    path: Path,
    workdir: Path,
    feeds: list[FeedEntry],
    smtp_port: int,
    *,
    recency_days: int = 14,
    model_path: str = "",
    alerts_min_confidence: float | None = None,
) -> Path:
    """The TOML config of a bench pass; `[detect] model_path` / `[alerts] min_confidence`
    are written only when given, so the file also loads with a config that lacks them."""
    alerts: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "recency_days": recency_days,
    }
    if alerts_min_confidence is not None:
        alerts["min_confidence"] = float(alerts_min_confidence)
    config: dict[str, Any] = {
        "warehouse": {"path": str(workdir / "bw.duckdb")},
        "staging": {"dir": str(workdir / "staging")},
        "fetch": {"allowed_hosts": ["127.0.0.1"]},
    }
    if model_path:
        config["detect"] = {"model_path": model_path}
    config["alerts"] = alerts
    config["feeds"] = [
        {"name": f.name, "url": f.url, **({"country": f.country} if f.country else {})}
        for f in feeds
    ]
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def run_banwatch(config: Path, *, replay: bool) -> str:
    """One pass of the real command in a child process; its summary line (stdout)."""
    argv = [sys.executable, "-m", "banwatch.cli", "run", "--config", str(config)]
    if replay:
        argv.insert(4, "--replay")
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"`banwatch run` failed (exit {done.returncode}): {done.stderr.strip()[-800:]}"
        )
    return done.stdout.strip()


def _columns(con, relation: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description]


def has_relation(con, name: str) -> bool:
    """Whether a table or view of that name exists (the candidates view is newer)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE view_name = ? AND NOT internal", [name]
    ).fetchone()[0]
    found += con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]
    ).fetchone()[0]
    return bool(found)


def _rows(con, relation: str, default_status: str | None) -> list[dict]:
    present = set(_columns(con, relation))
    select = ", ".join(c if c in present else f"NULL AS {c}" for c in EVENT_COLUMNS)
    out = []
    for values in con.execute(f"SELECT {select} FROM {relation}").fetchall():
        row = dict(zip(EVENT_COLUMNS, values, strict=True))
        if not row["status"]:
            row["status"] = default_status or ("historical" if row["historical"] else "news")
        out.append(row)
    return out


def read_events(db_path: Path, messages: list[EmailMessage]) -> list[StoredEvent]:
    """Every event of the warehouse (ban_events, plus ban_event_candidates where that view
    exists), each with its sources' URLs and the number of alert emails naming it."""
    import duckdb
    from banwatch.warehouse.outbox import OLD_NEWS

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = _rows(con, "ban_events", None)
        if has_relation(con, CANDIDATES_VIEW):
            rows += _rows(con, CANDIDATES_VIEW, "candidate")
        sources: dict[str, set[str]] = defaultdict(set)
        for event_id, url in con.execute("SELECT event_id, url FROM event_sources").fetchall():
            sources[event_id].add(url)
        # A replay's alerts are judged as of publication time, but `alerts.send` never emails
        # events that were old news when the pass ran (warehouse.outbox.skip_old_news): count
        # those outbox rows as the one email the replayed timeline would have sent.
        replayed = (
            [r[0] for r in con.execute(
                "SELECT event_id FROM alerts WHERE status = 'skipped' AND last_error LIKE ?",
                [f"{OLD_NEWS}%"],
            ).fetchall()]
            if has_relation(con, "alerts")
            else []
        )  # fmt: skip
    finally:
        con.close()
    per_event = emails_per_event(messages)
    for event_id in replayed:
        per_event[event_id] = per_event.get(event_id, 0) + 1
    events: dict[str, StoredEvent] = {}
    for r in rows:
        if r["event_id"] in events:  # listed by both views: count it once
            continue
        events[r["event_id"]] = StoredEvent(
            r["event_id"], r["country"], r["subdivision"], r["app"], r["scope"], r["action"],
            r["announced_on"], float(r["confidence"] or 0), r["evidence"] or "", r["url"],
            r["status"], sources[r["event_id"]] | ({r["url"]} if r["url"] else set()),
            per_event.get(r["event_id"], 0),
        )  # fmt: skip
    return list(events.values())


def emails_per_event(messages: list[EmailMessage]) -> dict[str, int]:
    """Alert emails per event id (each alert names its event in an `X-Banwatch-Event` header)."""
    counts: dict[str, int] = defaultdict(int)
    for m in messages:
        event_id = m.get("X-Banwatch-Event")
        if event_id:
            counts[str(event_id).strip()] += 1
    return dict(counts)


def stored_articles(db_path: Path) -> list[dict]:
    """The articles the pass stored: id, url, title, text, published_at, language, outcome,
    extraction, feed_name."""
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        cur = con.execute(
            "SELECT a.article_id, a.url, a.title, a.text, a.published_at, a.language, "
            "a.outcome, a.extraction, a.feed_name FROM articles a"
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    finally:
        con.close()
