"""
### banwatch_pipeline: one pass of banwatch

Polls the configured feeds in batches (one mapped task per batch), fetches and extracts the new
articles of each batch, groups them into stories, detects government app-ban events, loads it all
into the DuckDB warehouse and emails each new event once through banwatch's own outbox.

* **Settings**: the Airflow Variable `banwatch_config`, else the env var `BANWATCH_CONFIG`, names
  the TOML file. It is read inside the tasks, never when this file is parsed.
* **Schedule**: env `BANWATCH_SCHEDULE` (cron or preset), by default every 15 minutes.
* **One writer**: tasks that open the DuckDB file run in the one-slot pool `banwatch_duckdb`, and
  runs never overlap (`max_active_runs=1`).
* **Snapshot**: `publish_snapshot` publishes the analysts' read-only snapshot once, last;
  `record_failure` publishes it too, so a run that failed after its load still shows its events.
* **Staging**: batches travel as files under `staging.dir/<run_id>/`; XCom carries paths and counts.
* **Failures**: a task that fails for good emails the Variable `banwatch_failure_email` through the
  `smtp_default` connection.
"""

from __future__ import annotations

import datetime as dt
import os

from airflow.sdk import Asset, dag, get_current_context, task

from banwatch.dag_support import POOL, failure_notifier, task_pipeline

ARTICLES = Asset("duckdb://banwatch/articles")
EVENTS = Asset("duckdb://banwatch/ban_events")
# retry_exponential_backoff is a float multiplier in Airflow 3.3 (1.0: constant delay); say 2.0.
NETWORK = {
    "retries": 3,
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": dt.timedelta(minutes=15),
}
ON_FAILURE = failure_notifier()


def _now() -> dt.datetime:
    """The run's end of interval (its trigger time for manual runs): tasks never read the clock."""
    ctx = get_current_context()
    return ctx.get("data_interval_end") or ctx["dag_run"].run_after


@dag(
    schedule=os.environ.get("BANWATCH_SCHEDULE", "*/15 * * * *"),
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,  # DuckDB has one writer process: two passes must never overlap
    dagrun_timeout=dt.timedelta(hours=2),
    default_args={
        "retries": 1,
        "retry_delay": dt.timedelta(minutes=1),
        "on_failure_callback": ON_FAILURE,
    },
    tags=["banwatch", "ingest"],
    doc_md=__doc__,
)
def banwatch_pipeline():
    # A task returns its step's result as `to_xcom()` (a plain dict: Airflow deserialises only
    # allowed classes) and the next task rebuilds it with `from_xcom`. Such tasks say
    # multiple_outputs=False: from `-> dict` TaskFlow would infer True and also push every key
    # as an XCom of its own.
    @task(pool=POOL)
    def start_run() -> list[list[str]]:
        """Returns the feed batches to map over; the run's staging dir goes under key run_dir."""
        pipeline, settings = task_pipeline()
        ctx = get_current_context()
        started = pipeline.start_run(settings, ctx["run_id"], _now())
        ctx["ti"].xcom_push(key="run_dir", value=started.run_dir)
        return started.batches

    @task(multiple_outputs=False, **NETWORK)
    def poll_feeds(run_dir: str, batch: list[str]) -> dict:
        pipeline, settings = task_pipeline()
        return pipeline.poll_feeds(settings, run_dir, batch).to_xcom()

    @task(multiple_outputs=False, **NETWORK)
    def fetch_and_extract(run_dir: str, polled: dict) -> dict:
        pipeline, settings = task_pipeline()
        path = pipeline.Polled.from_xcom(polled).path
        return pipeline.fetch_and_extract(settings, run_dir, path).to_xcom()

    @task(pool=POOL, multiple_outputs=False)
    def embed_and_group(run_dir: str, fetched: list[dict]) -> dict:
        pipeline, settings = task_pipeline()
        paths = [pipeline.Fetched.from_xcom(f).path for f in fetched]
        return pipeline.embed_and_group(settings, run_dir, paths).to_xcom()

    @task(multiple_outputs=False)
    def detect_events(run_dir: str, fetched: list[dict]) -> dict:
        pipeline, settings = task_pipeline()
        paths = [pipeline.Fetched.from_xcom(f).path for f in fetched]
        return pipeline.detect_events(settings, run_dir, paths).to_xcom()

    @task(pool=POOL, outlets=[ARTICLES, EVENTS], multiple_outputs=False)
    def load(run_dir: str, polled: list, fetched: list, grouped: dict, detected: dict) -> dict:
        pipeline, settings = task_pipeline()
        staged = pipeline.Staged.of(
            [pipeline.Polled.from_xcom(p) for p in polled],
            [pipeline.Fetched.from_xcom(f) for f in fetched],
            pipeline.Grouped.from_xcom(grouped),
            pipeline.Detected.from_xcom(detected),
        )
        return pipeline.load(settings, run_dir, staged, _now()).to_xcom()

    @task(pool=POOL, multiple_outputs=False, **NETWORK)
    def send_alerts(loaded: dict) -> dict:
        pipeline, settings = task_pipeline()
        return pipeline.send_alerts(settings)

    @task(pool=POOL)
    def finish_run(run_dir: str, polled: list, fetched: list, loaded: dict, sent: dict) -> str:
        pipeline, settings = task_pipeline()
        summary = pipeline.summarise(
            [pipeline.Polled.from_xcom(p) for p in polled],
            [pipeline.Fetched.from_xcom(f) for f in fetched],
            pipeline.Loaded.from_xcom(loaded),
            sent,
        )
        run_id = get_current_context()["run_id"]
        return pipeline.finish_run(settings, run_id, run_dir, summary)

    @task(pool=POOL, multiple_outputs=False)
    def publish_snapshot(finished: str) -> dict:
        """The analysts' snapshot, once per run, after its last write (record_failure also does)."""
        pipeline, settings = task_pipeline()
        return pipeline.publish_snapshot(settings)

    # Runs only when a task failed. It is the DAG's only leaf, so it fails itself after recording
    # (the run must end failed); the failed task has already emailed, so this one does not.
    @task(pool=POOL, trigger_rule="one_failed", on_failure_callback=None)
    def record_failure() -> None:
        """Mark the run failed in the warehouse's `runs` table, then fail the DAG run."""
        from airflow.sdk.exceptions import AirflowFailException

        try:
            pipeline, settings = task_pipeline()
        except AirflowFailException:
            raise AirflowFailException("a task failed; no usable config to record it in") from None
        run_id = get_current_context()["run_id"]
        pipeline.fail_run(settings, run_id, "a task failed; see the Airflow task logs")
        raise AirflowFailException(f"run {run_id} failed; recorded in the warehouse's runs table")

    batches = start_run()
    run_dir = batches["run_dir"]
    polled = poll_feeds.partial(run_dir=run_dir).expand(batch=batches)
    fetched = fetch_and_extract.partial(run_dir=run_dir).expand(polled=polled)
    grouped = embed_and_group(run_dir, fetched)
    detected = detect_events(run_dir, fetched)
    loaded = load(run_dir, polled, fetched, grouped, detected)
    sent = send_alerts(loaded)
    finished = finish_run(run_dir, polled, fetched, loaded, sent)
    publish_snapshot(finished)
    [batches, polled, fetched, grouped, detected, loaded, sent, finished] >> record_failure()


banwatch_pipeline()
