"""The banwatch_pipeline DAG end to end with `dag.test()`, as Airflow's best practices describe.

A temporary AIRFLOW_HOME with a SQLite metadata DB (migrated once per session), the bundled
sample corpus on a loopback newsroom, alerts and Airflow's failure emails on a loopback SMTP
server. Each run is checked through what users see: task states, the warehouse's `ban_events`,
the emails, and an empty staging directory afterwards.
"""

from __future__ import annotations

import atexit
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"

# Airflow reads AIRFLOW_HOME when it is first imported: give the test session its own home
# (shared with test_dags.py through BANWATCH_TEST_AIRFLOW_HOME) before importing it.
if "BANWATCH_TEST_AIRFLOW_HOME" not in os.environ:
    os.environ["BANWATCH_TEST_AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="banwatch-airflow-")
    atexit.register(shutil.rmtree, os.environ["BANWATCH_TEST_AIRFLOW_HOME"], True)
os.environ["AIRFLOW_HOME"] = os.environ["BANWATCH_TEST_AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)

import duckdb  # noqa: E402
import pytest  # noqa: E402
import tomli_w  # noqa: E402
from airflow.dag_processing.dagbag import DagBag  # noqa: E402
from airflow.utils.session import create_session  # noqa: E402
from airflow.utils.state import DagRunState, TaskInstanceState  # noqa: E402
from sqlalchemy import text  # noqa: E402

from banwatch.demo import write_config  # noqa: E402
from banwatch.sample import load_sample  # noqa: E402
from tests.support.mailsink import MailSink  # noqa: E402
from tests.support.newsroom import Newsroom  # noqa: E402

NOW = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
SUCCESS = TaskInstanceState.SUCCESS


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """`airflow db migrate` once for the session's SQLite metadata DB."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=os.environ,
        check=True,
        capture_output=True,
    )


@pytest.fixture
def pipeline_dag(airflow_db):
    return DagBag(dag_folder=str(DAGS / "banwatch_pipeline.py")).dags["banwatch_pipeline"]


@pytest.fixture
def mail():
    with MailSink() as sink:
        yield sink


@pytest.fixture
def newsroom():
    with Newsroom(load_sample(max_phase=1, now=NOW)) as nr:
        yield nr


@pytest.fixture
def config(tmp_path: Path, newsroom: Newsroom, mail: MailSink, monkeypatch) -> Path:
    path = write_config(tmp_path, newsroom, mail.port)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["alerts"]["recipients"] == ["analysts@example.org"]
    data["alerts"]["digest_recipients"] = ["digest@example.org"]
    # 5 feeds in batches of 2: 3 mapped poll and fetch tasks
    data.setdefault("schedule", {})["feed_batch_size"] = 2
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    monkeypatch.setenv("BANWATCH_CONFIG", str(path))
    monkeypatch.setenv("AIRFLOW_VAR_BANWATCH_FAILURE_EMAIL", "oncall@example.org")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        f"smtp://127.0.0.1:{mail.port}?disable_ssl=true&disable_tls=true"
        "&from_email=airflow%40example.org",
    )
    return path


def task_states(run_id: str) -> dict[tuple[str, int], str]:
    with create_session() as session:
        rows = session.execute(
            text("SELECT task_id, map_index, state FROM task_instance WHERE run_id = :r"),
            {"r": run_id},
        ).all()
    return {(task_id, map_index): state for task_id, map_index, state in rows}


def xcom_sizes(run_id: str) -> dict[tuple[str, str], int]:
    with create_session() as session:
        rows = session.execute(
            text("SELECT task_id, key, length(value) FROM xcom WHERE run_id = :r"), {"r": run_id}
        ).all()
    return {(task_id, key): size for task_id, key, size in rows}


def ban_events(tmp_path: Path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "banwatch.duckdb"), read_only=True) as con:
        return con.execute(
            "SELECT jurisdiction, app, scope, action, source_count FROM ban_events ORDER BY ALL"
        ).fetchall()


def test_pipeline_dag_runs_end_to_end_and_a_second_run_adds_nothing(
    pipeline_dag, config: Path, mail: MailSink, tmp_path: Path
) -> None:
    run = pipeline_dag.test(logical_date=NOW)

    assert run.state == DagRunState.SUCCESS
    states = task_states(run.run_id)
    assert states.pop(("record_failure", -1)) == TaskInstanceState.SKIPPED  # runs on failure only
    assert {state for state in states.values()} == {SUCCESS}
    assert {key for key in states if key[0] == "poll_feeds"} == {
        ("poll_feeds", i) for i in range(3)
    }
    assert sum(1 for task_id, _ in states if task_id == "fetch_and_extract") == 3
    assert {task_id for task_id, _ in states} == {
        "start_run", "poll_feeds", "fetch_and_extract", "embed_and_group",
        "detect_events", "load", "send_alerts", "finish_run", "publish_snapshot",
    }  # fmt: skip
    with duckdb.connect(str(tmp_path / "banwatch.duckdb"), read_only=True) as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("finished",)]

    events = ban_events(tmp_path)
    # the answer key (tests/support/expected.toml) lists four outlets reporting it in phase 1
    assert ("United Kingdom", "TikTok", "government_devices", "ban", 4) in events
    assert len(events) >= 3
    subjects = sorted(str(m["Subject"]) for m in mail.messages)
    assert len(subjects) == len(events)  # one email per new (recent) event
    assert any("TikTok" in s and "United Kingdom" in s for s in subjects)
    assert all(rcpt == ["analysts@example.org"] for rcpt in mail.recipients)
    # large data went through staging files, now removed; XCom carried only paths and counts
    assert list((tmp_path / "staging").iterdir()) == []
    xcoms = xcom_sizes(run.run_id)
    assert max(xcoms.values()) < 1000
    assert {key for _, key in xcoms} == {"return_value", "run_dir"}  # one XCom per task

    again = pipeline_dag.test(logical_date=NOW + dt.timedelta(minutes=15))

    assert again.state == DagRunState.SUCCESS
    assert set(task_states(again.run_id).values()) == {SUCCESS, TaskInstanceState.SKIPPED}
    assert ban_events(tmp_path) == events
    assert len(mail.messages) == len(subjects)


def test_a_failed_task_emails_through_smtp_default(
    pipeline_dag, config: Path, mail: MailSink, monkeypatch
) -> None:
    """A config error fails start_run at once (no retry can fix it) and SmtpNotifier reports it."""
    monkeypatch.setenv("BANWATCH_CONFIG", str(config.with_name("missing.toml")))

    run = pipeline_dag.test(logical_date=NOW + dt.timedelta(hours=1))

    assert run.state == DagRunState.FAILED
    states = task_states(run.run_id)
    assert states[("start_run", -1)] == TaskInstanceState.FAILED
    assert states[("finish_run", -1)] == TaskInstanceState.UPSTREAM_FAILED
    assert states[("record_failure", -1)] == TaskInstanceState.FAILED  # ran; keeps the run failed
    assert len(mail.messages) == 1
    message = mail.messages[0]
    assert "banwatch_pipeline.start_run failed" in str(message["Subject"])
    assert mail.recipients[0] == ["oncall@example.org"]


def test_maintenance_dag_drops_old_staging_and_sends_the_digest(
    pipeline_dag, config: Path, mail: MailSink, tmp_path: Path
) -> None:
    assert pipeline_dag.test(logical_date=NOW).state == DagRunState.SUCCESS
    events = ban_events(tmp_path)
    alerts = len(mail.messages)
    staging = tmp_path / "staging"
    killed, recent = staging / "killed-run", staging / "running-run"
    killed.mkdir()
    recent.mkdir()
    week_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).timestamp()
    os.utime(killed, (week_ago, week_ago))  # older than staging.keep_days (3)
    dag = DagBag(dag_folder=str(DAGS / "banwatch_maintenance.py")).dags["banwatch_maintenance"]

    # the run of the next day: its digest covers the day the pipeline ran
    run = dag.test(logical_date=NOW + dt.timedelta(days=1))

    assert run.state == DagRunState.SUCCESS
    assert set(task_states(run.run_id).values()) == {SUCCESS}
    assert not killed.exists()
    assert recent.exists()
    assert ban_events(tmp_path) == events
    assert len(mail.messages) == alerts + 1
    digest = mail.messages[-1]
    assert mail.recipients[-1] == ["digest@example.org"]
    assert f"digest {NOW.date().isoformat()}: {alerts} new event" in str(digest["Subject"])
