"""`banwatch reprocess`: re-extract and re-detect stored articles, report what changed, email
nothing; over a real pass (loopback newsroom, SMTP sink, DuckDB file) and the real CLI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from banwatch import pipeline
from banwatch.cli import cli
from banwatch.config import load_settings
from banwatch.demo import write_config
from tests.support.factories import NOW

FILLER = (
    "Officials said the measure would be reviewed after six months and that other services "
    "were not affected by the decision.",
    "Opposition politicians criticised the move, saying it had been rushed through without a "
    "proper debate in parliament or a public consultation.",
    "The ministry published a short statement on its website but declined to answer further "
    "questions from reporters about how the rule would be enforced.",
)
# The rules give the first story 0.8 and the second 0.99 (decider = "rules").
STORIES = [
    (
        "lagoon-post",
        "iceland-tiktok",
        "Icelandic officials told to delete TikTok",
        "The government of Iceland said on Monday that civil servants may no longer install "
        "TikTok on their work phones, citing security concerns about the video app.",
    ),
    (
        "andes-daily",
        "peru-telegram",
        "Peru blocks Telegram nationwide",
        "Peru blocked the messaging app Telegram nationwide on Monday, the telecoms regulator "
        "said, after a court ordered providers to cut access to the service.",
    ),
    (
        "andes-daily",
        "bridge",
        "City council approves new footbridge",
        "The city council approved plans for a new footbridge over the river on Monday after "
        "residents campaigned for a safer crossing near the school.",
    ),
]
EVENT_COLUMNS = (
    "event_id, jurisdiction, app, scope, action, announced_on, first_seen_at, confidence, "
    "evidence, url, historical, status"
)


@pytest.fixture
def world(tmp_path, newsroom, sink, make_item):
    """One real pass over three pages of two outlets: two events emailed."""
    newsroom.add(
        make_item(outlet, slug, title, (lead, *FILLER), hours_ago=2)
        for outlet, slug, title, lead in STORIES
    )
    config = write_config(tmp_path, newsroom, sink.port, decider="rules", min_confidence=0.5)
    summary = pipeline.run_pass(load_settings(config), now=NOW)
    assert summary.new_events == 2 and summary.emails_sent == 2
    assert len(sink.messages) == 2
    sink.messages.clear()
    return config


def variant(config: Path, name: str, detect: str) -> Path:
    """The same config with more `[detect]` keys: what a code change would make detection see."""
    text = config.read_text().replace('decider = "rules"\n', f'decider = "rules"\n{detect}\n')
    path = config.with_name(name)
    path.write_text(text)
    return path


def run_cli(*args: str):
    result = CliRunner().invoke(cli, ["reprocess", *args])
    return result


def rows(config: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(load_settings(config).warehouse.path), read_only=True) as con:
        return con.execute(sql).fetchall()


def events(config: Path) -> list[tuple]:
    return rows(config, f"SELECT {EVENT_COLUMNS} FROM events ORDER BY event_id")


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_no_code_change_means_no_changes_and_no_email(world, sink):
    before = events(world)
    sources = rows(world, "SELECT * FROM event_sources ORDER BY ALL")
    alerts = rows(world, "SELECT event_id, status, attempts, sent_at FROM alerts ORDER BY ALL")
    result = run_cli("--config", str(world))
    assert result.exit_code == 0, result.output
    assert result.stdout == "no changes\n"
    assert "reprocessed 3 articles (3 re-extracted" in result.stderr
    assert "0 added, 0 removed, 0 changed" in result.stderr
    assert "articles done 3, of 3" in result.stderr  # the progress line
    assert events(world) == before
    assert rows(world, "SELECT * FROM event_sources ORDER BY ALL") == sources
    assert rows(world, "SELECT event_id, status, attempts, sent_at FROM alerts ORDER BY ALL") == (
        alerts
    )
    assert len(rows(world, "SELECT * FROM detections")) == 2
    assert sink.messages == []


def test_a_stricter_detector_removes_an_event_and_a_looser_one_adds_it_back(world, sink):
    strict = variant(world, "strict.toml", "min_confidence = 0.9")
    (tiktok,) = rows(world, "SELECT event_id FROM events WHERE app = 'TikTok'")[0]
    result = run_cli("--config", str(strict), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(r["change"], r["event_id"], r["app"], r["status"]) for r in report] == [
        ("removed", tiktok, "TikTok", "news")
    ]
    assert [e[2] for e in events(world)] == ["Telegram"]
    assert rows(world, "SELECT count(*) FROM detections WHERE app = 'TikTok'") == [(0,)]
    # the sent alert is untouched, although its event is gone
    assert rows(world, f"SELECT status FROM alerts WHERE event_id = '{tiktok}'") == [("sent",)]

    result = run_cli("--config", str(world))  # back to the first detector: the event returns
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["change", "event_id"]
    assert lines[2].split()[:4] == ["added", tiktok, "Iceland", "TikTok"]
    assert len(lines) == 3
    assert sorted(e[2] for e in events(world)) == ["Telegram", "TikTok"]
    assert rows(world, "SELECT status, attempts FROM alerts ORDER BY event_id") == [
        ("sent", 1),
        ("sent", 1),
    ]
    assert sink.messages == []


def test_an_event_created_by_reprocess_gets_no_alert(world, sink):
    strict = variant(world, "strict.toml", "min_confidence = 0.9")
    # pretend the TikTok story was never detected: its event and alert are not there yet
    assert run_cli("--config", str(strict)).exit_code == 0
    with duckdb.connect(str(load_settings(world).warehouse.path)) as con:
        con.execute("DELETE FROM alerts WHERE event_id NOT IN (SELECT event_id FROM events)")
    result = run_cli("--config", str(world), "--json")
    assert [r["change"] for r in json.loads(result.stdout)] == ["added"]
    assert rows(world, "SELECT count(*) FROM alerts") == [(1,)]  # the Telegram one only
    summary = pipeline.run_pass(load_settings(world), now=NOW + dt.timedelta(hours=1))
    assert summary.emails_sent == 0
    assert sink.messages == []


def test_an_unsent_alert_of_a_removed_event_is_skipped(world, sink):
    with duckdb.connect(str(load_settings(world).warehouse.path)) as con:
        con.execute("UPDATE alerts SET status = 'pending', sent_at = NULL")  # as --no-alerts
        con.execute("DELETE FROM alert_recipients")
    strict = variant(world, "strict.toml", "min_confidence = 0.9")
    assert run_cli("--config", str(strict)).exit_code == 0
    assert rows(
        world,
        "SELECT e.app, a.status, a.last_error FROM alerts AS a "
        "LEFT JOIN events AS e USING (event_id) ORDER BY a.status",
    ) == [
        ("Telegram", "pending", None),
        (None, "skipped", "reprocess: event removed; not emailed"),
    ]
    pipeline.run_pass(load_settings(world), now=NOW + dt.timedelta(hours=1))
    assert [m["Subject"] for m in sink.messages] == ["[banwatch] Peru bans Telegram nationwide"]


def test_a_changed_field_is_reported_old_to_new(world):
    # a detector that reads a lower confidence for the same sentence: simulated by the stored
    # detection's confidence, which reprocess recomputes from the page
    with duckdb.connect(str(load_settings(world).warehouse.path)) as con:
        con.execute("UPDATE events SET confidence = 0.5 WHERE app = 'Telegram'")
        con.execute("UPDATE event_sources SET confidence = 0.5")
    result = run_cli("--config", str(world), "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["change"] == "changed" and row["app"] == "Telegram"
    assert row["fields"] == {"confidence": {"old": 0.5, "new": 0.99}}
    assert rows(world, "SELECT confidence FROM events WHERE app = 'Telegram'") == [(0.99,)]


def test_text_is_extracted_again_from_the_raw_html(world):
    with duckdb.connect(str(load_settings(world).warehouse.path)) as con:
        con.execute("UPDATE articles SET text = 'stale text', language = NULL")
    result = run_cli("--config", str(world))
    assert result.exit_code == 0, result.output
    assert result.stdout == "no changes\n"
    assert "3 with new text" in result.stderr
    texts = rows(world, "SELECT text, language, extraction FROM articles ORDER BY url")
    assert all("six months" in t and lang == "en" and ex == "trafilatura" for t, lang, ex in texts)


def test_an_article_without_raw_html_is_detected_from_its_stored_text(world):
    with duckdb.connect(str(load_settings(world).warehouse.path)) as con:
        con.execute("UPDATE articles SET raw_html_gz = NULL")
    result = run_cli("--config", str(world))
    assert result.exit_code == 0, result.output
    assert result.stdout == "no changes\n"
    assert "(0 re-extracted" in result.stderr
    assert len(rows(world, "SELECT * FROM detections")) == 2


def test_since_keeps_older_articles_out(world):
    strict = variant(world, "strict.toml", "min_confidence = 0.9")
    fetched = rows(world, "SELECT max(fetched_at) FROM articles")[0][0]
    later = (fetched + dt.timedelta(days=1)).date().isoformat()
    result = run_cli("--config", str(strict), "--since", later)
    assert result.exit_code == 0, result.output
    assert result.stdout == "no changes\n"
    assert "reprocessed 0 articles" in result.stderr
    assert len(events(world)) == 2
    earlier = (fetched - dt.timedelta(days=1)).date().isoformat()
    result = run_cli("--config", str(strict), "--since", earlier, "--json")
    assert [r["change"] for r in json.loads(result.stdout)] == ["removed"]


def test_dry_run_reports_and_leaves_the_file_unchanged(world):
    strict = variant(world, "strict.toml", "min_confidence = 0.9")
    path = Path(load_settings(world).warehouse.path)
    snapshot = Path(load_settings(world).warehouse.snapshot)
    before, before_snapshot = digest(path), digest(snapshot)
    result = run_cli("--config", str(strict), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    assert [r["change"] for r in json.loads(result.stdout)] == ["removed"]
    assert "would change: 0 added, 1 removed" in result.stderr
    assert digest(path) == before
    assert digest(snapshot) == before_snapshot
    assert len(events(world)) == 2


def test_bad_since_is_one_line(world):
    result = run_cli("--config", str(world), "--since", "last tuesday")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "Error: --since 'last tuesday' is not a date; give YYYY-MM-DD (or an ISO 8601 time "
        "such as 2026-03-01T12:00+00:00)"
    ]


def test_no_warehouse_is_one_line(world, tmp_path):
    config = world.with_name("elsewhere.toml")
    config.write_text(world.read_text().replace("banwatch.duckdb", "missing/bw.duckdb"))
    result = run_cli("--config", str(config))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1
    assert "no warehouse yet" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_a_killed_reprocess_leaves_the_warehouse_as_it_was(world):
    strict = variant(world, "strict.toml", "min_confidence = 0.9")
    before = events(world)
    env = dict(os.environ, BANWATCH_KILL_AT="reprocess:events")
    done = subprocess.run(
        [sys.executable, "-m", "banwatch.cli", "reprocess", "--config", str(strict)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -9, done.stderr
    assert events(world) == before
    assert len(rows(world, "SELECT * FROM detections")) == 2
