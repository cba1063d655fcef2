"""`banwatch review`: a rejected event leaves the views and is never emailed; judgements export
as labelled rows that scripts/train_detector.py trains on.

Real passes over a loopback newsroom (`banwatch run` through click's CliRunner), a real SMTP
sink and real DuckDB files. The rules decide (with their 0.5 floor), so the events do not hang
on the learned model's reading of these made-up articles.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store
from banwatch.warehouse.review import judge
from click.testing import CliRunner

from banwatch.cli import cli
from banwatch.demo import write_config
from tests.support.factories import make_detection
from tests.support.newsroom import NewsItem
from tests.support.pages import article_page

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)  # `banwatch run` judges recency by the clock
FILLER = (
    "Opposition members said the decision came too late, while the company said it would "
    "appeal and that it had never shared any user data with a foreign government.",
    "The measure applies from next week and will be reviewed after a year, officials added.",
)
STORIES = {
    "estonia": (
        "tallinn-post",
        "Estonia bans TikTok on government phones",
        "Estonia's government banned TikTok on the work phones of ministers and civil servants "
        "on Monday, citing security advice from its cyber agency.",
    ),
    "chile": (
        "andes-daily",
        "Chile bars DeepSeek from state devices",
        "Chile's interior ministry barred the DeepSeek chatbot from all government devices on "
        "Monday, officials said.",
    ),
    "estonia-follow": (
        "baltic-wire",
        "Estonian civil servants delete TikTok as ban takes hold",
        "Estonia's ban on TikTok on government phones took hold this week, and ministries said "
        "most staff had already removed the app from their work phones.",
    ),
    "weather": (
        "baltic-wire",
        "Storm brings heavy snow to the coast",
        "A winter storm brought heavy snow to the coast overnight, closing two ferry routes and "
        "several schools.",
    ),
}


def item(key: str, hours_ago: float = 2) -> NewsItem:
    outlet, title, lead = STORIES[key]
    published = NOW - dt.timedelta(hours=hours_ago)
    return NewsItem(
        outlet=outlet,
        slug=key,
        title=title,
        summary=lead,
        published=published,
        html=article_page(title, (lead, *FILLER), outlet=outlet, published=published),
    )


def bw(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def query(config: Path, sql: str) -> list[dict]:
    code, out, err = bw("sql", "--config", str(config), "--json", sql)
    assert code == 0, err
    return json.loads(out)


def wait_for(sink, count: int) -> None:
    """The sink stores a message once the SMTP exchange ends; give it a moment."""
    deadline = time.monotonic() + 5
    while len(sink.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.fixture
def reviewed(tmp_path: Path, newsroom, sink):
    """Two events queued (no alerts sent), Estonia's rejected, then a pass that sees it again."""
    newsroom.add([item("estonia"), item("chile"), item("weather")])
    config = write_config(tmp_path, newsroom, sink.port, decider="rules", min_confidence=0.5)
    code, _, err = bw("run", "--config", str(config), "--no-alerts", "--quiet")
    assert code == 0, err
    ids = {r["app"]: r["event_id"] for r in query(config, "SELECT app, event_id FROM ban_events")}
    assert set(ids) == {"TikTok", "DeepSeek"}
    rejected = bw("review", ids["TikTok"], "--reject", "--note", "satire site", "-c", str(config))
    newsroom.add([item("estonia-follow", hours_ago=1)])
    code, _, err = bw("run", "--config", str(config), "--quiet")
    assert code == 0, err
    wait_for(sink, 1)
    return config, ids, rejected


def test_rejected_event_leaves_the_views_and_is_never_emailed(reviewed, sink) -> None:
    config, ids, (code, out, err) = reviewed
    assert code == 0, err
    assert f"event {ids['TikTok']} rejected" in out and "will not be emailed" in out
    assert [r["app"] for r in query(config, "SELECT app FROM ban_events")] == ["DeepSeek"]
    assert query(config, "SELECT app FROM situations") == [{"app": "DeepSeek"}]
    assert query(config, "SELECT * FROM ban_event_candidates") == []
    # the following pass emailed Chile's event only, although it saw Estonia's again
    assert [m["Subject"] for m in sink.messages if "TikTok" in m["Subject"]] == []
    assert len(sink.messages) == 1 and "DeepSeek" in sink.messages[0]["Subject"]
    with duckdb.connect(str(tmp_warehouse(config)), read_only=True) as con:
        alerts = dict(con.execute("SELECT event_id, status FROM alerts").fetchall())
        sources = con.execute(
            "SELECT count(*) FROM event_sources WHERE event_id = ?", [ids["TikTok"]]
        ).fetchone()[0]
    assert alerts == {ids["TikTok"]: "skipped", ids["DeepSeek"]: "sent"}
    assert sources == 2  # the follow-up joined the rejected event: no new event, no new alert


def tmp_warehouse(config: Path) -> Path:
    return config.parent / "banwatch.duckdb"


def test_confirm_list_and_latest_judgement_wins(reviewed) -> None:
    config, ids, _ = reviewed
    tiktok, deepseek = ids["TikTok"], ids["DeepSeek"]
    code, out, err = bw("review", deepseek, "--confirm", "-c", str(config))
    assert code == 0 and f"event {deepseek} confirmed" in out, err
    reviews = query(config, "SELECT app, review FROM ban_events")
    assert reviews == [{"app": "DeepSeek", "review": "confirmed"}]
    # an analyst changes their mind: the latest judgement counts, nothing is emailed
    code, out, _ = bw("review", tiktok, "--confirm", "--note", "it was real", "-c", str(config))
    assert code == 0 and "(was rejected)" in out
    assert {r["app"] for r in query(config, "SELECT app FROM ban_events")} == {"TikTok", "DeepSeek"}
    code, out, _ = bw("review", "list", "--json", "-c", str(config))
    rows = json.loads(out)
    assert [
        (r["event_id"], r["verdict"], r["current"]) for r in rows if r["event_id"] == tiktok
    ] == [
        (tiktok, "confirmed", True),
        (tiktok, "rejected", False),
    ]
    assert {r["reviewer"] for r in rows} and rows[-1]["note"] in (
        "satire site",
        None,
        "it was real",
    )


def test_unknown_event_and_missing_verdict_are_one_line_errors(reviewed) -> None:
    config, ids, _ = reviewed
    code, out, err = bw("review", "0123456789abcdef", "--reject", "-c", str(config))
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and "no event '0123456789abcdef'" in err
    assert "Traceback" not in err
    code, _, err = bw("review", ids["DeepSeek"], "-c", str(config))
    assert code == 2 and "--confirm or --reject" in err
    # a rejected event's alert cannot be resent by accident
    code, _, err = bw("alerts", "resend", ids["TikTok"], "-c", str(config))
    assert code == 1 and "rejected in review" in err


def test_rejected_candidate_is_not_queued_when_later_coverage_promotes_it(con) -> None:
    """Store functions on a real file: a candidate rejected, then a confident source for it."""
    seen = {"a1": dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC)}
    kwargs = dict(recency_days=14, urls={}, outlets={}, min_confidence=0.6)
    first = resolve_events([make_detection("a1", confidence=0.3)], {}, seen_at=seen, **kwargs)
    store.apply_resolution(con, first)
    (event,) = first.new_events
    assert event.status == "candidate"
    judge(con, event.event_id, "rejected", reviewer="tester")
    seen["a2"] = seen["a1"] + dt.timedelta(hours=3)
    detection = make_detection("a2", confidence=0.95)
    history = store.situation_history(con, {detection.situation})
    later = resolve_events([detection], history, seen_at=seen, **kwargs)
    assert later.promoted == {event.event_id: seen["a2"]}  # novelty alone would queue it
    assert store.apply_resolution(con, later)["queued"] == 0
    assert con.execute("SELECT count(*) FROM alerts").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM ban_events").fetchone()[0] == 0


def _train(judgements: Path, out: Path) -> dict:
    result = subprocess.run(
        [
            sys.executable,
            "scripts/train_detector.py",
            "--judgements",
            str(judgements),
            "--without-sets",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text())


def test_export_trains_the_detector(reviewed, tmp_path: Path) -> None:
    config, ids, _ = reviewed
    code, _, err = bw("review", ids["DeepSeek"], "--confirm", "-c", str(config))
    assert code == 0, err
    out = tmp_path / "judged.jsonl"
    code, stdout, err = bw("review", "export", "--out", str(out), "-c", str(config))
    assert code == 0 and "wrote 2 judged events" in stdout, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    by_app = {r["app"]: r for r in rows}
    assert (
        by_app["TikTok"]["verdict"] == "rejected" and by_app["DeepSeek"]["verdict"] == "confirmed"
    )
    assert by_app["DeepSeek"]["title"] == STORIES["chile"][1]
    assert STORIES["chile"][2] in by_app["DeepSeek"]["text"] and by_app["DeepSeek"]["article_id"]
    csv_out = tmp_path / "judged.csv"
    assert bw("review", "export", "--out", str(csv_out), "-c", str(config))[0] == 0
    first = _train(out, tmp_path / "m1.json")
    again = _train(csv_out, tmp_path / "m2.json")  # same rows as CSV: the same model
    assert first["meta"]["judgements"]["events"] == 2
    assert first["meta"]["judgements"]["candidates"] >= 2
    assert first["meta"]["positives"] >= 1
    for key in ("trees", "calib_y", "baseline", "names"):
        assert first[key] == again[key], key
