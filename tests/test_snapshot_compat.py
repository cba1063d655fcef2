"""The analysts' snapshot opens in DuckDB 1.x clients, not only in the DuckDB that wrote it.

banwatch runs DuckDB 2.x, whose default storage format no 1.x client reads; analysts use the
PyPI CLI (1.5.x) and BI tools that embed 1.x. So these tests install `duckdb<2` from PyPI into
a throwaway venv (pip's cache makes a second run fast) and open a real published snapshot
with it, in its own process. They skip only when pip cannot reach the package index.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest
from banwatch.warehouse import store
from test_warehouse import article, detection, load_everything

PIP_TIMEOUT = 300  # seconds for venv creation + `pip install 'duckdb<2'`
# pip's messages when it cannot reach (or find anything on) the index
UNREACHABLE = (
    "No matching distribution found",
    "Could not find a version that satisfies",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
)

# Run by the old client: open the snapshot read-only, print what an analyst would query.
OLD_CLIENT_QUERY = textwrap.dedent(
    """
    import json, sys
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "SELECT to_json(b)::VARCHAR FROM ban_events b ORDER BY event_id"
    ).fetchall()
    (comment,) = con.execute(
        "SELECT comment FROM duckdb_columns() "
        "WHERE table_name = 'ban_events' AND column_name = 'app'"
    ).fetchone()
    print(json.dumps({
        "version": duckdb.__version__,
        "rows": [r[0] for r in rows],
        "comment": comment,
    }))
    """
)


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.skip(f"`{' '.join(cmd[-3:])}` took over {PIP_TIMEOUT}s: package index unreachable")


@pytest.fixture(scope="module")
def old_python(tmp_path_factory) -> Path:
    """The python of a fresh venv with the newest DuckDB 1.x from PyPI."""
    venv = tmp_path_factory.mktemp("duckdb1") / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    pip = _run([str(python), "-m", "pip", "install", "-q", "duckdb<2"])
    if pip.returncode != 0:
        output = pip.stdout + pip.stderr
        if any(marker in output for marker in UNREACHABLE):
            pytest.skip(f"pip cannot reach the package index for duckdb<2: {output.strip()[-300:]}")
        pytest.fail(f"pip install 'duckdb<2' failed:\n{output}")
    return python


def _published_snapshot(tmp_path: Path) -> Path:
    """A snapshot published from a warehouse that holds two events with their sources."""
    snapshot = tmp_path / "data" / "banwatch.read.duckdb"
    con = store.connect(tmp_path / "data" / "banwatch.duckdb")
    try:
        articles = [article(i, site=f"Outlet {i}") for i in range(3)]
        detections = [detection(a.article_id) for a in articles[:2]]
        detections.append(detection(articles[2].article_id, app="WeChat"))
        load_everything(con, articles, detections)
        store.publish_snapshot(con, snapshot)
    finally:
        con.close()
    return snapshot


def _query_with(python: Path, path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", OLD_CLIENT_QUERY, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_duckdb_1x_client_reads_the_snapshot(old_python, tmp_path):
    snapshot = _published_snapshot(tmp_path)

    old = _query_with(old_python, snapshot)

    assert old.returncode == 0, old.stderr
    seen = json.loads(old.stdout)
    assert seen["version"].startswith("1."), seen["version"]
    with store.open_reader(snapshot) as con:  # what `banwatch sql` sees, DuckDB 2.x
        expected = [
            r[0]
            for r in con.execute(
                "SELECT to_json(b)::VARCHAR FROM ban_events b ORDER BY event_id"
            ).fetchall()
        ]
        (comment,) = con.execute(
            "SELECT comment FROM duckdb_columns() "
            "WHERE table_name = 'ban_events' AND column_name = 'app'"
        ).fetchone()
    assert seen["rows"] == expected
    assert sorted(json.loads(r)["app"] for r in seen["rows"]) == ["TikTok", "WeChat"]
    assert [json.loads(r)["source_count"] for r in seen["rows"] if "TikTok" in r] == [2]
    assert seen["comment"] == comment and comment


def test_the_default_format_is_what_1x_clients_cannot_open(old_python, tmp_path):
    """The control: without the explicit storage version the old client fails on the file."""
    default = tmp_path / "default.duckdb"
    con = duckdb.connect(str(default))
    con.execute("CREATE VIEW ban_events AS SELECT 1 AS event_id")
    con.close()

    old = _query_with(old_python, default)

    assert old.returncode != 0
    assert "version" in old.stderr.lower(), old.stderr
