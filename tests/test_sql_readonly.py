"""`banwatch sql` cannot escape the snapshot (issue 10): no writes, attaches, copies, installs or
local file reads, each refused with one clear line; plain SELECTs still work.

Every case goes through the real CLI (CliRunner) against real DuckDB files in tmp_path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pytest
import tomli_w
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import store
from click.testing import CliRunner

from banwatch.cli import cli
from tests.support.factories import make_detection

SEEN = dt.datetime(2026, 3, 16, 18, tzinfo=dt.UTC)
SECRET = "hunter2-local-only"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A warehouse with one event and its published snapshot, a config, and bystander files."""
    db = tmp_path / "bw.duckdb"
    config = {
        "warehouse": {"path": db.as_posix()},
        "staging": {"dir": (tmp_path / "staging").as_posix()},
        "alerts": {"smtp_host": "127.0.0.1", "smtp_port": 1},
        "feeds": [{"name": "nowhere", "url": "http://127.0.0.1:1/feed.xml"}],
    }
    (tmp_path / "banwatch.toml").write_text(tomli_w.dumps(config), encoding="utf-8")
    resolution = resolve_events(
        [make_detection("a1", app="Telegram", announced_on=SEEN.date(), confidence=0.9)],
        {},
        seen_at={"a1": SEEN},
        recency_days=14,
        urls={"a1": "https://one.example/n"},
        outlets={"a1": "One"},
    )
    with store.connect(db) as con:
        store.apply_resolution(con, resolution)
        store.publish_snapshot(con, tmp_path / "bw.read.duckdb")
    with duckdb.connect(str(tmp_path / "other.duckdb")) as other:
        other.execute("CREATE TABLE events AS SELECT 1 AS x")
    (tmp_path / "secret.txt").write_text(f"token\n{SECRET}\n", encoding="utf-8")
    return tmp_path


def sql(workdir: Path, query: str):
    return CliRunner().invoke(cli, ["sql", "--config", str(workdir / "banwatch.toml"), query])


def fingerprint(workdir: Path) -> dict[str, str]:
    """Every file and directory under workdir (the fake home included), files by content."""
    return {
        str(p.relative_to(workdir)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else "dir"
        for p in sorted(workdir.rglob("*"))
    }


ESCAPES = {
    "attach another file read-write": "ATTACH '{d}/other.duckdb' AS w (READ_WRITE); "
    "DELETE FROM w.events",
    "attach a new file": "ATTACH '{d}/new.duckdb' AS n; CREATE TABLE n.t AS SELECT 1",
    "copy out to a file": "COPY (SELECT * FROM ban_events) TO '{d}/leak.csv'",
    "export the database": "EXPORT DATABASE '{d}/export'",
    "install an extension": "INSTALL httpfs",
    "load an extension": "LOAD httpfs",
    "read a local file": "SELECT * FROM read_csv('{d}/secret.txt')",
    "read a local file as text": "SELECT content FROM read_text('{d}/secret.txt')",
    "list local files": "SELECT * FROM glob('{d}/*')",
    "turn external access back on": "SET enable_external_access = true; "
    "COPY (SELECT 1) TO '{d}/leak.csv'",
    "unlock the configuration": "SET lock_configuration = false",
    "write the snapshot": "DELETE FROM events",
}


@pytest.mark.parametrize("query", ESCAPES.values(), ids=ESCAPES.keys())
def test_each_escape_fails_in_one_line_and_changes_nothing(
    workdir: Path, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = workdir / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # where INSTALL would put an extension
    before = fingerprint(workdir)
    result = sql(workdir, query.format(d=workdir.as_posix()))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: query failed: ")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert SECRET not in result.output
    assert fingerprint(workdir) == before  # nothing written, nothing created
    with duckdb.connect(str(workdir / "other.duckdb"), read_only=True) as other:
        assert other.execute("SELECT count(*) FROM events").fetchone() == (1,)


def test_refusals_say_the_connection_is_read_only(workdir: Path) -> None:
    result = sql(workdir, "INSTALL httpfs")  # not a network error: refused before any download
    assert "disabled by configuration" in result.output
    assert "banwatch sql is read-only" in result.output


def test_a_plain_select_still_works(workdir: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "sql",
            "--config",
            str(workdir / "banwatch.toml"),
            "--csv",
            "SELECT app, jurisdiction, source_count, status FROM ban_events",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output == "app,jurisdiction,source_count,status\nTelegram,Norway,1,news\n"
