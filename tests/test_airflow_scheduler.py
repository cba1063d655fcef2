"""The real thing: `make airflow`'s standalone script against PostgreSQL with LocalExecutor.

The scheduler, dag-processor, triggerer and api-server run as subprocesses (in their own process
group, all stopped in a `finally`), the pipeline DAG runs on a one-minute schedule over the sample
corpus on a loopback newsroom, and the test waits (at most 10 minutes) for the first scheduled run,
then checks its tasks, the warehouse snapshot and the emails. It prints the time of that run, its
tasks' durations and the dag-processor's parse time of each DAG file (reported, never asserted).

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); it creates and drops the database
`banwatch_airflow_test`. Without one it is skipped, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from banwatch.demo import write_config
from banwatch.pipeline import _safe
from banwatch.sample import load_sample
from tests.support.mailsink import MailSink, free_port
from tests.support.newsroom import Newsroom

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
STANDALONE = ROOT / "scripts" / "airflow_standalone.sh"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATABASE = "banwatch_airflow_test"
DEADLINE_SECONDS = 600


def _admin():
    psycopg2 = pytest.importorskip("psycopg2")
    try:
        con = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is needed on 127.0.0.1:5432 in CI: {exc}")
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432: {exc}")
    con.autocommit = True
    return con


@pytest.fixture
def metadata_db():
    """A fresh, empty Airflow metadata database; dropped afterwards."""
    admin = _admin()
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{DATABASE}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.close()


def query(sql: str, *params) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(dbname=DATABASE, connect_timeout=5, **PG) as con, con.cursor() as cur:
        cur.execute(sql, params)
        rows = cur.fetchall()
    con.close()
    return rows


def stop_group(proc: subprocess.Popen) -> None:
    """Stop the standalone and everything it started (scheduler, workers, tasks, api-server):
    Ctrl-C first, as a user would, then SIGTERM, then SIGKILL."""
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()  # reap the script itself, or its zombie keeps the group alive
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.5)
        else:
            continue
        break
    proc.wait()


def wait_for(predicate, proc: subprocess.Popen, log: Path, what: str, deadline: float):
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"airflow standalone exited {proc.returncode}:\n{log.read_text()[-5000:]}")
        try:
            result = predicate()
        except Exception:  # psycopg2.Error: the metadata tables are not there yet
            result = None
        if result:
            return result
        time.sleep(2)
    pytest.fail(f"{what}: not within {DEADLINE_SECONDS} s:\n{log.read_text()[-5000:]}")


def first_finished_run() -> tuple | None:
    runs = query(
        "SELECT run_id, run_type, state, start_date, end_date FROM dag_run "
        "WHERE dag_id = 'banwatch_pipeline' ORDER BY run_after LIMIT 1"
    )
    return runs[0] if runs and runs[0][2] in ("success", "failed") else None


def test_scheduled_run_under_the_real_scheduler(metadata_db: str, tmp_path: Path, capsys) -> None:
    now = dt.datetime.now(dt.UTC)
    home, log = tmp_path / "airflow_home", tmp_path / "standalone.log"
    with Newsroom(load_sample(max_phase=1, now=now)) as newsroom, MailSink() as mail:
        config = write_config(tmp_path, newsroom, mail.port)
        with config.open("a", encoding="utf-8") as fh:
            fh.write("\n[schedule]\nfeed_batch_size = 2\n")
        port = free_port()
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BANWATCH_TEST"))
        }
        env.update(
            AIRFLOW_HOME=str(home),
            AIRFLOW_PORT=str(port),
            AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metadata_db,
            AIRFLOW__CORE__EXECUTOR="LocalExecutor",
            AIRFLOW__CORE__PARALLELISM="4",
            AIRFLOW__API__WORKERS="1",
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            BANWATCH_CONFIG=str(config),
            BANWATCH_SCHEDULE="* * * * *",  # the first scheduled run starts within a minute
            PYTHONUNBUFFERED="1",
        )
        started = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["bash", str(STANDALONE)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            deadline = started + DEADLINE_SECONDS
            wait_for(
                lambda: query("SELECT 1 FROM dag WHERE dag_id = 'banwatch_pipeline'"),
                proc, log, "DAG parsed", deadline,
            )  # fmt: skip
            # DAGs start paused; unpausing runs the latest tick of the schedule right away
            subprocess.run(
                [sys.executable, "-m", "airflow", "dags", "unpause", "banwatch_pipeline"],
                env=env,
                check=True, capture_output=True, cwd=ROOT,
            )  # fmt: skip
            run_id, run_type, state, start, end = wait_for(
                first_finished_run, proc, log, "a finished run", deadline
            )
            waited = time.monotonic() - started
            tasks = query(
                "SELECT task_id, map_index, state, duration FROM task_instance WHERE run_id = %s",
                run_id,
            )
            parse = query("SELECT relative_fileloc, last_parse_duration FROM dag ORDER BY 1")
        finally:
            stop_group(proc)
        # With a one-minute schedule the next tick may start a run before the standalone stops;
        # stopping it kills that run and leaves its staging directory, which is not this run's.
        later_runs = query(
            "SELECT run_id FROM dag_run WHERE dag_id = 'banwatch_pipeline' AND run_id <> %s", run_id
        )

        assert state == "success", log.read_text()[-5000:]
        assert run_type == "scheduled"
        states = {(task_id, s) for task_id, _, s, _ in tasks}
        assert ("record_failure", "skipped") in states  # the failure path did not run
        assert {s for task_id, s in states if task_id != "record_failure"} == {"success"}
        assert sum(1 for t, _, _, _ in tasks if t == "poll_feeds") == 3  # 5 feeds, 2 per batch
        output = log.read_text()
        assert f"Airflow UI: http://localhost:{port}" in output
        assert "login: admin, password: " in output
        with duckdb.connect(str(tmp_path / "banwatch.read.duckdb"), read_only=True) as con:
            events = con.execute("SELECT jurisdiction, app, action FROM ban_events").fetchall()
        assert ("United Kingdom", "TikTok", "ban") in events
        assert len(mail.messages) == len(events)
        staging = tmp_path / "staging"
        assert not (staging / _safe(run_id)).exists()  # the finished run removed its own
        assert {p.name for p in staging.iterdir()} <= {_safe(r) for (r,) in later_runs}

    with capsys.disabled():
        if later_runs:
            print(f"\nnext tick started before the stop: {[r for (r,) in later_runs]}")
        print(f"\nscheduled run {run_id}: {(end - start).total_seconds():.1f} s "
              f"(start of the standalone to the run's success: {waited:.0f} s)")  # fmt: skip
        busy = sorted(((d, t if i < 0 else f"{t}[{i}]") for t, i, _, d in tasks if d), reverse=True)
        print("task durations: " + ", ".join(f"{name} {d:.1f} s" for d, name in busy))
        for fileloc, seconds in parse:
            print(f"dag-processor parse {fileloc}: {seconds * 1000:.0f} ms")
