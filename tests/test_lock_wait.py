"""An analyst's session holding the warehouse file does not break a scheduled pass (issue 10).

A real second process holds `duckdb.connect(warehouse, read_only=True)`, as a notebook would.
`banwatch run` (CliRunner) waits up to `warehouse.lock_timeout` for it, logging who holds it,
and then either runs once the holder lets go or fails in one line naming the holder's pid.
The holder is bounded: it exits when its stdin closes or after HOLD_AT_MOST seconds, and it is
killed in `finally` in any case.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from banwatch.warehouse import store
from click.testing import CliRunner

from banwatch.cli import cli
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom

HOLD_AT_MOST = 60  # seconds: the holder exits on its own after this
HOLDER = """
import select, sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("ready", flush=True)
select.select([sys.stdin], [], [], float(sys.argv[2]))  # until stdin closes, or the bound
"""


class Holder:
    """A process holding the DuckDB file open read-only until `release()` (or its bound)."""

    def __init__(self, path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), str(HOLD_AT_MOST)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stdout.readline().strip() == "ready"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def release(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def stop(self) -> None:
        self.release()
        self.proc.kill()
        self.proc.wait(timeout=30)


class ReleaseWhenWaited(logging.Handler):
    """Lets the holder go once the pass has logged that it waits for it: no race on timing."""

    def __init__(self, holder: Holder) -> None:
        super().__init__(logging.WARNING)
        self.holder = holder
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        if "is held by" in message:
            self.holder.release()


@pytest.fixture
def config(tmp_path: Path, newsroom: Newsroom, make_item, sink: MailSink) -> Path:
    newsroom.add([make_item("gazette", "depot-park")])
    store.connect(tmp_path / "bw.duckdb").close()  # the file exists, as between two passes
    path = tmp_path / "banwatch.toml"
    config = {
        "warehouse": {"path": (tmp_path / "bw.duckdb").as_posix(), "lock_timeout": 60},
        "staging": {"dir": (tmp_path / "staging").as_posix()},
        "fetch": {"allowed_hosts": ["127.0.0.1"]},
        "alerts": {"smtp_host": "127.0.0.1", "smtp_port": sink.port},
        "feeds": [{"name": "gazette", "url": newsroom.feed_url("gazette")}],
    }
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


@pytest.fixture
def holder(tmp_path: Path, config: Path) -> Iterator[Holder]:
    held = Holder(tmp_path / "bw.duckdb")
    try:
        yield held
    finally:
        held.stop()


def run(config: Path):
    return CliRunner().invoke(cli, ["run", "--config", str(config)])


def test_a_pass_waits_for_a_reader_that_lets_go(config: Path, holder: Holder) -> None:
    logger = logging.getLogger(
        "banwatch.warehouse.store"
    )  # the CLI resets the root logger's handlers
    waited = ReleaseWhenWaited(holder)
    logger.addHandler(waited)
    try:
        result = run(config)
    finally:
        logger.removeHandler(waited)
    assert result.exit_code == 0, result.output
    held = [m for m in waited.messages if "is held by" in m]
    assert len(held) == 1, waited.messages  # logged once, however many retries
    assert f"PID {holder.pid} (" in held[0] and "duckdb.connect" in held[0]  # its command line
    assert "warehouse.lock_timeout" in held[0]
    with store.open_reader(config.with_name("bw.read.duckdb")) as reader:
        assert reader.execute("SELECT status FROM runs").fetchall() == [("finished",)]
        assert reader.execute("SELECT count(*) FROM articles").fetchone() == (1,)


def test_a_pass_fails_in_one_line_naming_a_holder_that_stays(config: Path, holder: Holder) -> None:
    config.write_text(
        config.read_text(encoding="utf-8").replace("lock_timeout = 60", "lock_timeout = 1"),
        encoding="utf-8",
    )
    result = run(config)
    assert result.exit_code == 1, result.output
    error = result.output.strip().splitlines()[-1]
    assert error.startswith("Error: ") and "Traceback" not in result.output
    assert f"locked by another process, PID {holder.pid} (" in error
    assert "after waiting 1 s (warehouse.lock_timeout)" in error
    assert "snapshot" in error and "banwatch sql" in error
    assert holder.proc.poll() is None  # it was the holder that stayed, not a crash
