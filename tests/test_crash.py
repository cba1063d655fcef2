"""A pass killed anywhere loses nothing, and the next pass cleans up after it (issue 12).

`banwatch run` runs as a real subprocess over the sample newsroom on 127.0.0.1, with alerts to
a loopback SMTP server. The fault-injection hook `banwatch.faults.checkpoint` SIGKILLs it at one
named point (`BANWATCH_KILL_AT`): after each step's staging file (poll, fetch, embed, detect),
at each of the load step's former commit points, after the commit, in the SMTP window (the
server accepted one email, `sent` is not committed yet), and while publishing the snapshot (the
pass's last step).
Then `banwatch run` runs again (in this process, through CliRunner, so the embedding model loads
once). The warehouse must hold the same events as after an uninterrupted pass, every alert
email must have been received exactly once (in the SMTP window: that one at most twice, with
the same Message-ID), the warehouse and the snapshot must be readable, the killed run must be
`aborted`, and no staging or snapshot copy may be left. Killed processes run two at a time,
each bounded by RUN_TIMEOUT; the table of results is printed at the end.
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
from banwatch.sample import load_sample
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
BEFORE_LOAD = ["staged:poll", "staged:articles", "staged:stories", "staged:detections"]
BEFORE_COMMIT = [
    "load:feeds",
    "load:articles",
    "load:embeddings",
    "load:stories",
    "load:detections",
    "load:events",
]
SMTP_WINDOW = "alerts:accepted"  # the server has one email, its row is not `sent` yet
PUBLISHING = "snapshot:copied"  # the pass's last step: alerts sent, run finished, not renamed yet
AFTER_COMMIT = ["load:committed", SMTP_WINDOW, PUBLISHING]
POINTS = [*BEFORE_LOAD, *BEFORE_COMMIT, *AFTER_COMMIT]
SNAPSHOT_COPIES = ".banwatch.read.duckdb.*.tmp*"  # what a killed publication leaves
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

    @property
    def snapshot(self) -> Path:
        return self.workdir / "banwatch.read.duckdb"


TABLE: dict[str, tuple[str, str, str]] = {}  # kill point -> events equal, emails once, readable


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


def readable(crash: Crash) -> bool:
    """Both files open and answer: the writer's warehouse and the analysts' snapshot."""
    try:
        query(crash.db, "SELECT count(*) FROM events")
        query(crash.snapshot, "SELECT count(*) FROM ban_events")
    except duckdb.Error:
        return False
    return True


def check_the_kill(crash: Crash, baseline: dict[str, Any]) -> None:
    """What the killed pass left: nothing before the load's commit, everything after it."""
    assert crash.killed is not None
    assert crash.killed.returncode == -signal.SIGKILL, crash.killed.stderr
    point = crash.point
    counts = {t: query(crash.db, f"SELECT count(*) FROM {t}")[0][0] for t in DATA_TABLES}
    if point in BEFORE_LOAD or point in BEFORE_COMMIT:
        assert counts == dict.fromkeys(DATA_TABLES, 0), f"killed at {point}, data was committed"
    else:
        assert len(events_of(crash.db)) == len(baseline["events"])
        assert counts["alerts"] == len(baseline["news"])
    assert not crash.snapshot.exists()  # published once, at the very end of the pass
    copies = list(crash.workdir.glob(SNAPSHOT_COPIES))
    assert bool(copies) == (point == PUBLISHING), copies  # the leftover copy
    sent = {SMTP_WINDOW: 1, PUBLISHING: len(baseline["news"])}.get(point, 0)
    assert len(crash.sink.messages) == sent
    status = "finished" if point == PUBLISHING else "running"
    assert query(crash.db, "SELECT status FROM runs") == [(status,)]


@pytest.mark.parametrize("point", POINTS)
def test_a_killed_pass_is_completed_by_the_next(
    point: str, crashes: dict[str, Crash], baseline: dict[str, Any]
) -> None:
    crash = crashes[point]
    check_the_kill(crash, baseline)

    run_pass(crash.config)
    mail = received(crash.sink, len(baseline["news"]))
    events_equal = events_of(crash.db) == baseline["events"]
    copies = Counter(mail.values())
    once = set(mail) == set(baseline["mail"]) and set(copies) == {1}
    twice_at_most = set(mail) == set(baseline["mail"]) and copies[2] <= 1 and set(copies) <= {1, 2}
    TABLE[point] = (
        "yes" if events_equal else "NO",
        "yes" if once else ("1 twice, same Message-ID" if twice_at_most else "NO"),
        "yes" if readable(crash) else "NO",
    )

    assert events_equal
    assert set(mail) == {f"<{e}@example.org>" for e in baseline["news"]}
    assert twice_at_most if point == SMTP_WINDOW else once, mail  # same Message-ID if twice
    shown = sum(1 for e in baseline["events"].values() if e[7] != "candidate")
    assert query(crash.snapshot, "SELECT count(*) FROM ban_events")[0][0] == shown
    runs = dict(query(crash.db, "SELECT status, count(*) FROM runs GROUP BY status"))
    if point == PUBLISHING:  # it had finished; only its publication was lost
        assert runs == {"finished": 2}, runs
    else:
        assert runs == {"aborted": 1, "finished": 1}, runs  # the killed run no longer running
        (error,) = query(crash.db, "SELECT error FROM runs WHERE status = 'aborted'")[0]
        assert "is gone" in error
    assert list((crash.workdir / "staging").iterdir()) == []  # the killed run's staging too
    assert list(crash.workdir.glob(SNAPSHOT_COPIES)) == []


def test_print_the_table(crashes: dict[str, Crash], capsys: pytest.CaptureFixture[str]) -> None:
    """The closing note's table: one row per kill point (filled in by the tests above)."""
    rows = [(p, *TABLE.get(p, ("not run",) * 3)) for p in POINTS]
    header = ("kill point", "events equal", "emails exactly once", "warehouse readable")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(4)]
    with capsys.disabled():
        print()
        for row in [header, tuple("-" * w for w in widths), *rows]:
            print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    assert set(TABLE) == set(POINTS)
