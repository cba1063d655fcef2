"""
### banwatch_maintenance: daily housekeeping of the banwatch warehouse

* **maintenance**: DuckDB CHECKPOINT/VACUUM, then republishes the analysts' read-only snapshot.
* **clean_staging**: removes staging directories older than `staging.keep_days` (a killed or
  failed pass leaves its staging directory behind; a finished pass removes its own).
* **daily_digest**: one email listing the previous day's events, when the digest is configured.

Settings come from the Variable `banwatch_config` or env `BANWATCH_CONFIG`, read inside the tasks.
Tasks that open the DuckDB file share the one-slot pool `banwatch_duckdb` with the pipeline DAG.
"""

from __future__ import annotations

import datetime as dt

from airflow.sdk import dag, get_current_context, task

from banwatch.dag_support import POOL, failure_notifier, task_pipeline

ON_FAILURE = failure_notifier()


@dag(
    schedule="@daily",
    start_date=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": dt.timedelta(minutes=5),
        "on_failure_callback": ON_FAILURE,
    },
    tags=["banwatch", "maintenance"],
    doc_md=__doc__,
)
def banwatch_maintenance():
    @task(pool=POOL, multiple_outputs=False)
    def maintenance() -> dict:
        pipeline, settings = task_pipeline()
        return pipeline.maintenance(settings)

    @task
    def clean_staging() -> int:
        pipeline, settings = task_pipeline()
        now = get_current_context()["dag_run"].run_after
        return pipeline.clean_staging(settings, settings.staging.keep_days, now)

    @task(pool=POOL, retry_exponential_backoff=2.0, multiple_outputs=False)
    def daily_digest() -> dict:
        """The digest covers the last whole day before the run (yesterday for the midnight run)."""
        ctx = get_current_context()
        end = ctx.get("data_interval_end") or ctx["dag_run"].run_after
        pipeline, settings = task_pipeline()
        return pipeline.daily_digest(settings, (end - dt.timedelta(days=1)).date())

    maintenance() >> daily_digest()
    clean_staging()


banwatch_maintenance()
