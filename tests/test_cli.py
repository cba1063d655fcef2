"""The `banwatch` command as a user meets it: exact output, one-line errors, exit codes."""

from __future__ import annotations

import datetime as dt
import email
import functools
from email import policy
from pathlib import Path

import pytest
import tomli_w
from banwatch.enrich.novelty import event_id_for, resolve_events
from banwatch.warehouse import store
from click.testing import CliRunner

from banwatch import __version__
from banwatch.cli import cli
from tests.support.factories import make_detection

ANNOUNCED = dt.date(2026, 3, 16)
SEEN = dt.datetime(2026, 3, 16, 18, tzinfo=dt.UTC)


# Norway's Telegram ban, the event every CLI test lists
detection = functools.partial(
    make_detection,
    app="Telegram",
    announced_on=ANNOUNCED,
    evidence="Norway barred Telegram from government phones on Monday.",
    confidence=0.9,
)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A config whose warehouse holds one event with two sources, snapshot published."""
    db = tmp_path / "bw.duckdb"
    path = tmp_path / "banwatch.toml"
    tables = {
        "warehouse": {"path": db.as_posix()},
        "staging": {"dir": (tmp_path / "staging").as_posix()},
        "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 2, "retries": 0},
        "alerts": {"smtp_host": "127.0.0.1", "smtp_port": 1},
        "feeds": [{"name": "nowhere", "url": "http://127.0.0.1:1/feed.xml"}],
    }
    path.write_text(tomli_w.dumps(tables), encoding="utf-8")
    dets = [detection("a1"), detection("a2", evidence="Oslo orders Telegram off state phones.")]
    resolution = resolve_events(
        dets,
        {},
        seen_at={"a1": SEEN, "a2": SEEN},
        recency_days=14,
        urls={"a1": "https://one.example/n", "a2": "https://two.example/n"},
        outlets={"a1": "One", "a2": "Two"},
    )
    with store.connect(db) as con:
        store.apply_resolution(con, resolution)
        store.publish_snapshot(con, tmp_path / "bw.read.duckdb")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_version_and_help() -> None:
    assert invoke("--version").output == f"banwatch, version {__version__}\n"
    result = invoke("-h")
    assert result.exit_code == 0
    for command in ("run", "events", "sql", "demo"):
        assert f"  {command} " in result.output


def test_events_csv_is_exact(config: Path) -> None:
    result = invoke("events", "--config", str(config), "--csv")
    assert result.exit_code == 0, result.output
    event_id = event_id_for(("NO", "", "Telegram", "government_devices", ""), "ban", ANNOUNCED)
    assert result.output == (
        "event_id,announced_on,jurisdiction,country,subdivision,app,scope,action,source_count,"
        "confidence,url\n"
        f"{event_id},2026-03-16,Norway,NO,,Telegram,government_devices,ban,2,0.9,"
        "https://one.example/n\n"
    )


def test_events_table_on_a_terminal(config: Path) -> None:
    result = invoke("events", "--config", str(config))
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "event_id", "announced_on", "jurisdiction", "country", "subdivision", "app", "scope",
        "action", "source_count", "confidence", "url",
    ]  # fmt: skip
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split()[1:] == [
        "2026-03-16", "Norway", "NO", "Telegram", "government_devices", "ban", "2", "0.9",
        "https://one.example/n",
    ]  # fmt: skip


def test_sql_json(config: Path) -> None:
    result = invoke(
        "sql", "--config", str(config), "--json",
        "SELECT app, source_count FROM ban_events",
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.output == '[\n  {\n    "app": "Telegram",\n    "source_count": 2\n  }\n]\n'


def test_sql_is_read_only_and_errors_are_one_line(config: Path) -> None:
    result = invoke("sql", "--config", str(config), "DELETE FROM events")
    assert result.exit_code == 1
    assert result.output.startswith("Error: query failed: ")
    assert result.output.count("\n") == 1
    result = invoke("sql", "--config", str(config), "SELEKT 1")
    assert result.exit_code == 1 and result.output.count("\n") == 1


def test_missing_config_is_one_actionable_line(tmp_path: Path) -> None:
    result = invoke("run", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {tmp_path / 'nope.toml'}: file not found; pass --config FILE or set "
        "BANWATCH_CONFIG\n"
    )


def test_bad_config_key_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[fetch]\ntimeout_s = 3\n", encoding="utf-8")
    result = invoke("run", "--config", str(path))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: fetch.timeout_s: unknown key")


def test_events_before_any_run_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    config = {"warehouse": {"path": (tmp_path / "x.duckdb").as_posix()}}
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    result = invoke("events", "--config", str(path))
    assert result.exit_code == 1
    assert "no warehouse snapshot yet; run `banwatch run` once" in result.output


def test_run_with_an_unreachable_feed_completes_and_counts_it(config: Path) -> None:
    result = invoke("run", "--config", str(config), "--quiet")
    # Completed, but its one feed failed (3) and the queued alert met no SMTP server (4 wins).
    assert result.exit_code == 4, result.output
    assert result.output.splitlines()[-1] == (
        "feeds polled 1 (failed 1), new articles 0 (failed 0), new stories 0, "
        "new events 0, emails sent 0, alerts undelivered 1"
    )
    status = invoke(
        "sql", "--config", str(config), "--csv",
        "SELECT name, last_outcome, failure_count FROM feeds",
    )  # fmt: skip
    assert status.output.splitlines()[1].startswith("nowhere,temporary,1")


def test_a_failed_pass_is_one_line_and_recorded_in_runs(
    tmp_path: Path, newsroom, make_item
) -> None:
    newsroom.add([make_item("daily", "park")])
    path = tmp_path / "c.toml"
    config = {
        "warehouse": {"path": (tmp_path / "w.duckdb").as_posix()},
        "staging": {"dir": (tmp_path / "st").as_posix()},
        "fetch": {"allowed_hosts": ["127.0.0.1"]},
        "embed": {"model": (tmp_path / "no-such-model").as_posix()},
        "feeds": [{"name": "daily", "url": newsroom.feed_url("daily")}],
    }
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    result = invoke("run", "--config", str(path), "--quiet")
    assert result.exit_code == 1
    assert result.output.startswith("Error: embed.model: cannot load ")
    assert result.output.count("\n") == 1
    import duckdb

    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        status, error = con.execute("SELECT status, error FROM runs").fetchone()
    assert status == "failed" and "embed.model" in error


def test_a_streamed_table_keeps_the_first_batchs_columns(config: Path) -> None:
    query = "SELECT printf('%04d', range) AS id, 'ok' AS state FROM range(1500)"
    result = invoke("sql", "--config", str(config), "--all", query)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == ["id    state", "----  -----", "0000  ok"]
    assert lines[2 + 1200] == "1200  ok"  # past the first batch of 1000 rows
    assert len(lines) == 2 + 1500


def test_demo_prints_its_summary_and_writes_the_alerts_as_eml_files(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = invoke("demo", "--dir", str(workdir), "--quiet")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    summary = next(line for line in out if line.startswith("feeds polled 5 (failed 0), "))
    sent = int(summary.rsplit("emails sent ", 1)[1])
    assert sent > 0
    assert out[out.index(summary) + 2].split()[:3] == ["jurisdiction", "country", "subdivision"]
    mail = workdir / "mail"
    assert out[-3:] == [
        f"warehouse: {workdir / 'banwatch.duckdb'} "
        f"(read-only snapshot: {workdir / 'banwatch.read.duckdb'})",
        f"alert emails: {sent} saved in {mail}",
        f'query it:  banwatch sql --config {workdir / "banwatch.toml"} "SELECT * FROM ban_events"',
    ]
    files = sorted(mail.glob("*.eml"))
    assert len(files) == sent
    messages = [email.message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert all(m["X-Envelope-To"] == "analysts@example.org" for m in messages)
    assert len({m["Message-ID"] for m in messages}) == sent
    # a second demo starts again: a fresh warehouse and a mailbox of its own pass only
    again = invoke("demo", "--dir", str(workdir), "--quiet")
    assert again.exit_code == 0, again.output
    assert f"alert emails: {sent} saved in {mail}" in again.stdout
    assert len(list(mail.glob("*.eml"))) == sent
