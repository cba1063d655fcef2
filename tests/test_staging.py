"""Staging files are data, not pickles; interrupted runs are aborted and their leftovers removed.

Staging records round-trip through JSON lines (and the embedding matrix through `.npy`), and a
pickle dropped in their place is refused without being unpickled. `pipeline.start_run` on a real
DuckDB file marks `running` rows of gone processes `aborted` and removes their staging and the
snapshot copies killed publications left, and leaves live runs alone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pytest
import tomli_w

from banwatch import pipeline
from banwatch.config import Settings, load_settings
from banwatch.records import (
    Action,
    Article,
    FeedResult,
    FeedState,
    Outcome,
    ParsedEntry,
    Scope,
    StoryAssignment,
)
from banwatch.staging import StagingError, read_matrix, read_records, write_matrix, write_records
from tests.support.factories import make_detection

NOW = dt.datetime(2026, 3, 16, 9, 30, tzinfo=dt.UTC)


def test_records_round_trip_through_json_lines(tmp_path: Path) -> None:
    entry = ParsedEntry("wire", "https://a.example/x", "https://a.example/x?utm=1", "T", "S", NOW)
    records = [
        FeedState("wire", etag='W/"1"', failure_count=2),
        FeedResult("wire", "https://a.example/feed", Outcome.SOFT, "bozo", 200, entries=[entry]),
        entry,
        Article(
            "a1",
            "https://a.example/x",
            "wire",
            "Title",
            "Text ü",
            NOW,
            language="de",
            outcome=Outcome.TEMPORARY,
            raw_html_gz=b"\x1f\x8b\x00\xff",
            fetched_at=NOW,
        ),  # fmt: skip
        StoryAssignment("a1", "s1", 0.93),
        make_detection("a1", announced_on=dt.date(2026, 3, 1), background=True),
    ]
    path = write_records(tmp_path / "batch.jsonl", records, {"run_id": "r1"})
    meta, back = read_records(path)
    assert meta == {"run_id": "r1"}
    assert back == records
    assert back[1].outcome is Outcome.SOFT and back[1].entries[0].published_at == NOW
    assert not list(tmp_path.glob("*.tmp"))  # written through a temporary name, then renamed


def test_vocabularies_come_back_as_their_members_and_unknown_ones_fail(tmp_path: Path) -> None:
    path = Path(write_records(tmp_path / "d.jsonl", [make_detection("a1", scope="nationwide")]))
    (detection,) = read_records(path)[1]
    assert detection.scope is Scope.NATIONWIDE and detection.action is Action.BAN
    text = path.read_text(encoding="utf-8").replace('"nationwide"', '"everywhere"')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StagingError, match="everywhere"):
        read_records(path)


def test_step_results_cross_xcom_as_plain_json(tmp_path: Path) -> None:
    """The DAG hands results over as `to_xcom()` dicts: plain JSON, rebuilt unchanged."""
    results = [
        pipeline.Started(str(tmp_path), [["a", "b"], ["c"]]),
        pipeline.Polled(str(tmp_path / "poll.jsonl"), feeds=2, failed=1, entries=5),
        pipeline.Loaded(new_articles=3, new_events=1, alertable_events=1),
    ]
    for result in results:
        wire = json.loads(json.dumps(result.to_xcom()))
        assert type(result).from_xcom(wire) == result
    summary = pipeline.summarise(
        [results[1], pipeline.Polled("p2", feeds=3)],
        [pipeline.Fetched("f1", articles=4, failed=2)],
        results[2],
        {"sent": 1, "undelivered": 1},
    )
    assert summary.line() == (
        "feeds polled 5 (failed 1), new articles 3 (failed 2), new stories 0, new events 1, "
        "emails sent 1, alerts undelivered 1"
    )


def test_the_embedding_matrix_is_npy_without_pickles(tmp_path: Path) -> None:
    matrix = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert np.array_equal(read_matrix(write_matrix(tmp_path / "m.npy", matrix)), matrix)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(StagingError):
        read_matrix(tmp_path / "objects.npy")


class Boom:
    """Unpickling this runs code: it would create the file named in `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_in_the_staging_dir_is_refused_unread(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    (tmp_path / "articles-x.jsonl").write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(StagingError, match="not a banwatch staging file"):
        read_records(tmp_path / "articles-x.jsonl")
    assert not marker.exists()


# ---------------------------------------------------------------- interrupted runs


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    config = tmp_path / "banwatch.toml"
    settings = {
        "warehouse": {"path": (tmp_path / "bw.duckdb").as_posix()},
        "staging": {"dir": (tmp_path / "staging").as_posix()},
        "feeds": [{"name": "wire", "url": "http://127.0.0.1:1/feed.xml"}],
    }
    config.write_text(tomli_w.dumps(settings), encoding="utf-8")
    return load_settings(config)


@pytest.fixture
def live_pid() -> Iterator[int]:
    """A process of our own that is alive for the test."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        yield proc.pid
    finally:
        proc.kill()
        proc.wait()


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # exited and reaped: the pid names no process now
    return proc.pid


def runs(settings: Settings) -> dict[str, tuple[str, str | None]]:
    with duckdb.connect(settings.warehouse.path, read_only=True) as con:
        return {
            r: (s, e)
            for r, s, e in con.execute("SELECT run_id, status, error FROM runs").fetchall()
        }


def started(settings: Settings, run_id: str, pid: int | None) -> Path:
    """A run that started and was then interrupted: its row says running, its staging stays."""
    run_dir = Path(pipeline.start_run(settings, run_id, NOW, pid=pid).run_dir)
    assert run_dir.is_dir()
    return run_dir


def test_a_killed_cli_pass_is_aborted_and_a_live_one_is_left(
    settings: Settings, live_pid: int
) -> None:
    killed_dir = started(settings, "cli-killed", dead_pid())
    live_dir = started(settings, "cli-live", live_pid)
    airflow_dir = started(settings, "scheduled__recent", None)  # tasks in many processes
    started(settings, "cli-next", os.getpid())
    status = runs(settings)
    assert status["cli-killed"][0] == "aborted" and "gone" in (status["cli-killed"][1] or "")
    assert not killed_dir.exists()
    assert status["cli-live"] == ("running", None) and live_dir.is_dir()
    # a CLI pass cannot tell whether an Airflow run is live: only the age bound applies
    assert status["scheduled__recent"] == ("running", None) and airflow_dir.is_dir()


def test_a_new_airflow_run_aborts_the_previous_one_but_not_its_own_retry(
    settings: Settings,
) -> None:
    earlier = started(settings, "scheduled__1", None)
    started(settings, "scheduled__2", None)
    started(settings, "scheduled__2", None)  # start_run retried: the same run, still running
    status = runs(settings)
    assert status["scheduled__1"][0] == "aborted" and not earlier.exists()
    assert status["scheduled__2"] == ("running", None)


def test_an_old_run_is_aborted_whatever_its_process(settings: Settings, live_pid: int) -> None:
    started(settings, "scheduled__old", None)
    started(settings, "cli-old", live_pid)
    with duckdb.connect(settings.warehouse.path) as con:
        con.execute(
            "UPDATE runs SET process_started_at = process_started_at - ?",
            [dt.timedelta(hours=settings.schedule.stale_run_hours, minutes=1)],
        )
    started(settings, "cli-now", os.getpid())
    status = runs(settings)
    assert status["scheduled__old"][0] == "aborted" and status["cli-old"][0] == "aborted"


def test_snapshot_copies_of_killed_publications_are_removed(
    settings: Settings, live_pid: int
) -> None:
    folder = Path(settings.warehouse.snapshot).parent
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(settings.warehouse.snapshot).name
    gone, wal = folder / f".{name}.{dead_pid()}.tmp", folder / f".{name}.{dead_pid()}.tmp.wal"
    live = folder / f".{name}.{live_pid}.tmp"  # a publication in progress elsewhere: kept
    other = folder / f".other.duckdb.{dead_pid()}.tmp"  # not this snapshot's name: kept
    for path in (gone, wal, live, other):
        path.write_bytes(b"x" * 1024)
    started(settings, "cli-1", os.getpid())
    assert not gone.exists() and not wal.exists()
    assert live.exists() and other.exists()
