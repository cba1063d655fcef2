"""`banwatch run`'s exit codes, through the real command in a child process.

Feeds come from the loopback newsroom (healthy empty feeds and its /fault/ routes), alerts go to
a real SMTP server on 127.0.0.1 or to a closed port. No pass here has an article, so none loads
the embedding model.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store

from tests.support.factories import make_detection
from tests.support.mailsink import MailSink, free_port

ROOT = Path(__file__).resolve().parents[1]
SEEN = dt.datetime(2026, 3, 16, 18, tzinfo=dt.UTC)


def write_config(
    tmp_path: Path, feeds: dict[str, str], smtp_port: int, fetch: dict[str, object] | None = None
) -> Path:
    """A config for these feeds; `fetch` adds keys to its [fetch] table."""
    path = tmp_path / "banwatch.toml"
    config = {
        "warehouse": {"path": (tmp_path / "bw.duckdb").as_posix()},
        "staging": {"dir": (tmp_path / "staging").as_posix()},
        "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 5, "retries": 0, **(fetch or {})},
        "alerts": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, "timeout": 5},
        "feeds": [{"name": name, "url": url} for name, url in feeds.items()],
    }
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def queue_one_alert(tmp_path: Path) -> None:
    """An event already in the warehouse with its alert queued (as a previous pass left it)."""
    resolution = resolve_events(
        [make_detection("a1", announced_on=SEEN.date(), confidence=0.95)],
        {},
        seen_at={"a1": SEEN},
        recency_days=14,
        urls={"a1": "https://one.example/n"},
        outlets={"a1": "One"},
    )
    with store.connect(tmp_path / "bw.duckdb") as con:
        store.apply_resolution(con, resolution)
        assert con.execute("SELECT count(*) FROM alerts").fetchone() == (1,)


def banwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "banwatch.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def alert_status(tmp_path: Path) -> str:
    import duckdb

    with duckdb.connect(str(tmp_path / "bw.duckdb"), read_only=True) as con:
        return con.execute("SELECT status FROM alerts").fetchone()[0]


@pytest.fixture
def feeds(newsroom) -> dict[str, str]:
    """Two healthy (empty) feeds and one answering 500."""
    newsroom.open_outlets(["daily", "weekly"])
    return {
        "daily": newsroom.feed_url("daily"),
        "weekly": newsroom.feed_url("weekly"),
        "broken": newsroom.fault_url("500", "/feed.xml"),
    }


def test_exit_0_when_done_even_with_a_failed_feed_below_the_threshold(tmp_path, feeds):
    queue_one_alert(tmp_path)
    with MailSink() as sink:
        done = banwatch("run", "--config", str(write_config(tmp_path, feeds, sink.port)))
        assert len(sink.messages) == 1
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "feeds polled 3 (failed 1), new articles 0 (failed 0), new stories 0, "
        "new events 0, emails sent 1"
    )
    # 1 of 3 is not over fetch.max_failed_feeds_ratio = 0.5, but the feed is still named.
    assert "feed 'broken' failed: http_500 (temporary)" in done.stderr
    assert alert_status(tmp_path) == "sent"


def test_exit_3_names_each_failed_feed_and_its_reason(tmp_path, newsroom):
    newsroom.open_outlets(["daily"])
    feeds = {
        "daily": newsroom.feed_url("daily"),
        "gone": newsroom.fault_url("404", "/feed.xml"),
        "broken": newsroom.fault_url("500", "/feed.xml"),
    }
    done = banwatch("run", "--config", str(write_config(tmp_path, feeds, free_port())))
    assert done.returncode == 3, done.stderr
    assert "feeds polled 3 (failed 2)" in done.stdout
    named = [line.split(" WARNING banwatch: ", 1)[1] for line in done.stderr.splitlines()
             if " WARNING banwatch: feed " in line]  # fmt: skip
    assert [line.split(":", 1)[0] for line in named] == [
        "feed 'gone' failed",
        "feed 'broken' failed",
    ]
    assert "http_404" in named[0] and "http_500" in named[1]
    assert "2 of 3 feeds failed (more than fetch.max_failed_feeds_ratio = 0.5)" in done.stderr


def test_exit_3_when_every_feed_failed_whatever_the_ratio(tmp_path, newsroom):
    feeds = {f"f{i:02d}": newsroom.fault_url("500", f"/{i}/feed.xml") for i in range(12)}
    config = write_config(tmp_path, feeds, free_port(), {"max_failed_feeds_ratio": 1.0})
    done = banwatch("run", "--config", str(config))
    assert done.returncode == 3, done.stderr
    named = [line for line in done.stderr.splitlines() if " failed: http_500 " in line]
    assert len(named) == 10  # capped, the rest counted
    assert "... and 2 more failed feeds (see the feeds table)" in done.stderr


def test_exit_4_when_an_alert_could_not_be_delivered(tmp_path, feeds):
    queue_one_alert(tmp_path)
    port = free_port()  # nothing listens there
    done = banwatch("run", "--config", str(write_config(tmp_path, feeds, port)))
    assert done.returncode == 4, done.stderr
    assert done.stdout.splitlines()[-1].endswith("emails sent 0, alerts undelivered 1")
    assert f"cannot reach SMTP server 127.0.0.1:{port}" in done.stderr
    assert alert_status(tmp_path) == "pending"
    # The server is back: the next pass delivers it and exits 0.
    with MailSink(port=port) as sink:
        again = banwatch("run", "--config", str(write_config(tmp_path, feeds, port)))
        assert len(sink.messages) == 1
    assert again.returncode == 0, again.stderr
    assert alert_status(tmp_path) == "sent"


def test_exit_4_wins_over_3(tmp_path, newsroom):
    queue_one_alert(tmp_path)
    feeds = {"broken": newsroom.fault_url("500", "/feed.xml")}
    done = banwatch("run", "--config", str(write_config(tmp_path, feeds, free_port())))
    assert done.returncode == 4, done.stderr
    assert "feed 'broken' failed: http_500" in done.stderr


def test_exit_1_for_a_bad_setting_and_2_for_a_bad_command_line(tmp_path, feeds):
    config = write_config(tmp_path, feeds, free_port(), {"max_failed_feeds_ratio": 2})
    done = banwatch("run", "--config", str(config))
    assert done.returncode == 1
    assert done.stderr == f"Error: {config}: fetch.max_failed_feeds_ratio: must be in [0, 1]\n"
    assert banwatch("run", "--no-such-flag").returncode == 2
