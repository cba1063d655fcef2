"""No traceback, ever (issue 10): bad input and huge results end in one line or a bounded result.

Every case goes through the real CLI (CliRunner) against real DuckDB files in tmp_path. Paths
that cannot be written sit under a regular FILE, which stops root too (CI runs as root).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomli_w
from banwatch.warehouse import store
from click.testing import CliRunner

from banwatch.cli import cli

NOTE = "note: showing the first {n} rows; more matched (pass --limit N or --all to see them)\n"


def write_config(tmp_path: Path, staging: Path) -> Path:
    """A config whose one feed is unreachable (port 1): a pass fails fast, nothing leaves."""
    path = tmp_path / "banwatch.toml"
    config = {
        "warehouse": {"path": (tmp_path / "bw.duckdb").as_posix()},
        "staging": {"dir": staging.as_posix()},
        "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 2, "retries": 0},
        "alerts": {"smtp_host": "127.0.0.1", "smtp_port": 1},
        "feeds": [{"name": "nowhere", "url": "http://127.0.0.1:1/feed.xml"}],
    }
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An empty warehouse with its snapshot published."""
    path = write_config(tmp_path, tmp_path / "staging")
    with store.connect(tmp_path / "bw.duckdb") as con:
        store.publish_snapshot(con, tmp_path / "bw.read.duckdb")
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


def assert_one_line_error(result, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_an_empty_query_is_one_line(config: Path) -> None:
    for query in ("", "  -- only a comment"):
        result = invoke("sql", "--config", str(config), query)
        assert_one_line_error(result)
        assert result.output == (
            'Error: QUERY has no SQL statement; e.g. banwatch sql "SELECT * FROM ban_events"\n'
        )


@pytest.mark.parametrize(("command", "value"), [("events", "-1"), ("sql", "0")])
def test_a_limit_below_one_is_a_usage_error(config: Path, command: str, value: str) -> None:
    args = [command, "--config", str(config), "--limit", value]
    result = invoke(*args, *(["SELECT 1"] if command == "sql" else []))
    assert_one_line_error(result, code=2)
    assert result.output.splitlines()[-1] == (
        f"Error: Invalid value for '--limit': {value} is not in the range x>=1."
    )


def test_query_errors_keep_duckdbs_hints(config: Path) -> None:
    result = invoke("sql", "--config", str(config), "SELECT * FROM ban_evnts")
    assert_one_line_error(result)
    assert result.output == (
        "Error: query failed: Catalog Error: Table with name ban_evnts does not exist! "
        'Did you mean "ban_events"?\n'
    )
    result = invoke("sql", "--config", str(config), "SELECT appp FROM ban_events")
    assert result.output.count("\n") == 1
    assert result.output.endswith('Candidate bindings: "app"\n')


def test_a_huge_result_prints_the_cap_and_a_note(config: Path) -> None:
    result = invoke("sql", "--config", str(config), "SELECT * FROM range(5000000)")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:3] == ["range", "-----", "0"]
    assert len(lines) == 2 + 1000 and lines[-1] == "999"
    assert len(result.stdout) < 6000  # 1000 short rows, not 5 million
    assert result.stderr == NOTE.format(n=1000)


def test_limit_and_all(config: Path) -> None:
    result = invoke(
        "sql", "--config", str(config), "--csv", "--limit", "3", "SELECT * FROM range(9)"
    )
    assert result.stdout == "range\n0\n1\n2\n"
    assert result.stderr == NOTE.format(n=3)
    exact = invoke(
        "sql", "--config", str(config), "--csv", "--limit", "3", "SELECT * FROM range(3)"
    )
    assert exact.stdout == "range\n0\n1\n2\n" and exact.stderr == ""
    # --all crosses several fetch chunks and prints what json.dumps of the whole list would
    result = invoke("sql", "--config", str(config), "--json", "--all", "SELECT * FROM range(2500)")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout == json.dumps([{"range": i} for i in range(2500)], indent=2) + "\n"
    empty = invoke("sql", "--config", str(config), "--json", "SELECT * FROM range(0)")
    assert empty.stdout == "[]\n"


def test_run_with_an_unwritable_staging_dir_names_it(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory\n", encoding="utf-8")
    staging = tmp_path / "afile" / "staging"
    path = write_config(tmp_path, staging)
    result = invoke("run", "--config", str(path), "--quiet")
    assert_one_line_error(result)
    assert result.output.count("\n") == 1
    assert result.output.startswith(
        f"Error: {path}: staging.dir: cannot write the staging directory {staging}/cli-"
    )
    assert result.output.endswith(
        " (Not a directory); set staging.dir to a directory banwatch can create and write\n"
    )
    assert not (tmp_path / "bw.duckdb").exists()  # checked before any run is recorded


def test_demo_with_an_unwritable_dir_names_it(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a directory\n", encoding="utf-8")
    workdir = tmp_path / "afile" / "demo"
    result = invoke("demo", "--dir", str(workdir), "--quiet")
    assert_one_line_error(result)
    assert result.output == (
        f"Error: {workdir}: cannot use it as the demo directory (Not a directory); "
        "pass --dir DIR with a directory you can create and write\n"
    )


def test_a_config_value_out_of_range_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "banwatch.toml"
    path.write_text("[fetch]\nconcurrency = 0\n", encoding="utf-8")
    result = invoke("run", "--config", str(path), "--quiet")
    assert_one_line_error(result)
    assert result.output == f"Error: {path}: fetch.concurrency: must be at least 1\n"


def test_relative_paths_in_the_config_follow_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    path = site / "banwatch.toml"
    path.write_text('[warehouse]\npath = "bw.duckdb"\n', encoding="utf-8")
    with store.connect(site / "bw.duckdb") as con:
        store.publish_snapshot(con, site / "bw.read.duckdb")
    monkeypatch.chdir(tmp_path)  # not the config's directory
    result = invoke("sql", "--config", "site/banwatch.toml", "--csv", "SELECT 42 AS answer")
    assert result.exit_code == 0, result.output
    assert result.stdout == "answer\n42\n"
    assert not (tmp_path / "bw.read.duckdb").exists()
