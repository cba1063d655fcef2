"""A pass killed anywhere inside `load` loses nothing (issue 12).

`banwatch run` runs as a real subprocess over the sample newsroom on 127.0.0.1, with alerts to
a loopback SMTP server. The fault-injection hook `banwatch.faults.checkpoint` SIGKILLs it at one
of the load step's former commit points (`BANWATCH_KILL_AT`). Then `banwatch run` runs again
(in this process, through CliRunner, so the embedding model loads once), and the warehouse must
hold the same events as after an uninterrupted pass, with every alert email received exactly
once. Before the commit a kill must leave no trace of the pass's data. Seven points, seven
killed processes (two at a time), each bounded by RUN_TIMEOUT.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from banwatch.cli import cli
from banwatch.demo import write_config
from banwatch.faults import ENV_KILL_AT
from banwatch.mailsink import MailSink
from banwatch.newsroom import Newsroom
from banwatch.sample import load_sample

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
BEFORE_COMMIT = [
    "load:feeds",
    "load:articles",
    "load:embeddings",
    "load:stories",
    "load:detections",
    "load:events",
]
AFTER_COMMIT = "load:committed"
POINTS = [*BEFORE_COMMIT, AFTER_COMMIT]
DATA_TABLES = ("feeds", "articles", "stories", "detections", "events", "event_sources", "alerts")
RUN_TIMEOUT = 600  # seconds: a hung pass fails the test instead of hanging the suite


def run_killed(config: Path, kill_at: str) -> subprocess.CompletedProcess[str]:
    """`banwatch run --config FILE` in a fresh process that SIGKILLs itself at `kill_at`."""
    return subprocess.run(
        [sys.executable, "-m", "banwatch.cli", "run", "--config", str(config), "--quiet"],
        env={**os.environ, ENV_KILL_AT: kill_at},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def run_pass(config: Path) -> None:
    """`banwatch run --config FILE` as a user runs it (in this process: the model loads once)."""
    os.environ.pop(ENV_KILL_AT, None)
    result = CliRunner().invoke(cli, ["run", "--config", str(config), "--quiet"])
    assert result.exit_code == 0, result.output + repr(result.exception)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def events_of(db: Path) -> dict[str, tuple[Any, ...]]:
    """Every event with what a user sees of it (first_seen_at aside: it is the run's clock)."""
    rows = query(
        db,
        "SELECT e.event_id, e.country, e.subdivision, e.app, e.scope, e.action, e.body, "
        "e.announced_on, e.status, e.historical, e.jurisdiction, "
        "list(a.url ORDER BY a.url) AS sources FROM events e "
        "JOIN event_sources s USING (event_id) JOIN articles a USING (article_id) GROUP BY ALL",
    )
    return {r[0]: r[1:] for r in rows}


def news_event_ids(db: Path) -> set[str]:
    return {r[0] for r in query(db, "SELECT event_id FROM events WHERE status = 'news'")}


def received(sink: MailSink, expected: int) -> Counter[str]:
    """Message-IDs received, after waiting briefly for `expected` (aiosmtpd runs in a thread)."""
    deadline = time.monotonic() + 10
    while len(sink.messages) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return Counter(m["Message-ID"] for m in sink.messages)


@dataclass
class Crash:
    """One warehouse whose first pass was killed at `point`."""

    point: str
    workdir: Path
    sink: MailSink
    config: Path
    killed: subprocess.CompletedProcess[str] | None = None

    @property
    def db(self) -> Path:
        return self.workdir / "banwatch.duckdb"


@pytest.fixture(scope="module")
def newsroom() -> Iterator[Newsroom]:
    with Newsroom(load_sample(max_phase=1, now=NOW)) as nr:
        yield nr


@pytest.fixture(scope="module")
def baseline(newsroom: Newsroom, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What one uninterrupted pass leaves: its events and the alert emails it sent."""
    workdir = tmp_path_factory.mktemp("uninterrupted")
    with MailSink() as sink:
        run_pass(write_config(workdir, newsroom, sink.port))
        db = workdir / "banwatch.duckdb"
        news = news_event_ids(db)
        mail = received(sink, len(news))
    assert news, "the sample corpus should give news events to alert"
    return {"events": events_of(db), "mail": mail, "news": news}


@pytest.fixture(scope="module")
def crashes(
    newsroom: Newsroom, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Crash]]:
    """One warehouse per kill point, each first pass killed there (two processes at a time)."""
    with contextlib.ExitStack() as stack:
        found = {}
        for point in POINTS:
            workdir = tmp_path_factory.mktemp(point.replace(":", "-"))
            sink = stack.enter_context(MailSink())
            found[point] = Crash(point, workdir, sink, write_config(workdir, newsroom, sink.port))
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = pool.map(lambda c: run_killed(c.config, c.point), found.values())
            for crash, process in zip(found.values(), done, strict=True):
                crash.killed = process
        yield found


@pytest.mark.parametrize("point", POINTS)
def test_a_pass_killed_in_load_is_completed_by_the_next(
    point: str, crashes: dict[str, Crash], baseline: dict[str, Any]
) -> None:
    crash = crashes[point]
    assert crash.killed is not None
    assert crash.killed.returncode == -signal.SIGKILL, crash.killed.stderr
    counts = {t: query(crash.db, f"SELECT count(*) FROM {t}")[0][0] for t in DATA_TABLES}
    if point in BEFORE_COMMIT:
        assert counts == dict.fromkeys(DATA_TABLES, 0), f"killed at {point}, data was committed"
    else:
        assert len(events_of(crash.db)) == len(baseline["events"])
        assert counts["alerts"] == len(baseline["news"])
        assert not (crash.workdir / "banwatch.read.duckdb").exists()  # published after commit
    assert crash.sink.messages == []

    run_pass(crash.config)
    assert events_of(crash.db) == baseline["events"]
    mail = received(crash.sink, len(baseline["news"]))
    assert mail == baseline["mail"]  # the same emails as an uninterrupted pass ...
    assert set(mail.values()) == {1}  # ... each exactly once
    assert set(mail) == {f"<{e}@banwatch>" for e in baseline["news"]}
    shown = sum(1 for e in baseline["events"].values() if e[7] != "candidate")
    snapshot = crash.workdir / "banwatch.read.duckdb"
    assert query(snapshot, "SELECT count(*) FROM ban_events")[0][0] == shown
