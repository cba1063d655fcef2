"""What both DAG files share: the DuckDB pool, the failure email, and settings read in tasks.

Imported at DAG parse time, so it imports nothing heavy at module level: Airflow, banwatch's
pipeline and the settings file are only touched inside `task_pipeline` and
`failure_notifier`, which run in tasks (or build one small notifier object at parse).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from banwatch.config import Settings

POOL = "banwatch_duckdb"  # one slot: DuckDB has one writer process
CONFIG_VARIABLE = "banwatch_config"
FAILURE_EMAIL_VARIABLE = "banwatch_failure_email"


def failure_notifier() -> Any:
    """Email a task's failure through Airflow's `smtp_default` connection."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return SmtpNotifier(
        to="{{ var.value.get('" + FAILURE_EMAIL_VARIABLE + "', 'airflow@example.org') }}",
        subject="[banwatch] task {{ ti.dag_id }}.{{ ti.task_id }} failed ({{ run_id }})",
    )


def task_pipeline() -> tuple[ModuleType, Settings]:
    """banwatch's steps and settings, imported and read at run time only (never at parse).

    The settings file is the Variable `banwatch_config` or env `BANWATCH_CONFIG`; a config error
    fails the task at once (`AirflowFailException`), since retrying cannot fix it.
    """
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowFailException

    from banwatch import pipeline
    from banwatch.config import ENV_CONFIG, load_settings
    from banwatch.errors import ConfigError

    path = Variable.get(CONFIG_VARIABLE, default=None) or os.environ.get(ENV_CONFIG)
    try:
        if not path:
            raise ConfigError("no config file: set the Variable banwatch_config or BANWATCH_CONFIG")
        return pipeline, load_settings(path)
    except ConfigError as exc:
        raise AirflowFailException(str(exc)) from exc
