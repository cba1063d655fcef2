"""Airflow's `smtp_default` connection, built from banwatch's own `[alerts]` settings.

The DAGs email a task's failure through Airflow's `smtp_default` connection; without one that
email cannot be sent ("SMTP connection is not found"). `scripts/airflow_standalone.sh` runs
`python -m banwatch.airflow_smtp CONFIG` and exports the JSON it prints (stdout) as
`AIRFLOW_CONN_SMTP_DEFAULT`, so the failure email goes where banwatch's alerts go. The login
comes from BANWATCH_SMTP_USER / BANWATCH_SMTP_PASSWORD, as for alerts; the description on
stderr never shows the password.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from banwatch.config import AlertSettings, load_settings
from banwatch.errors import BanwatchError


def smtp_connection(alerts: AlertSettings) -> dict[str, Any]:
    """Airflow connection fields (JSON form of AIRFLOW_CONN_*) for the SMTP provider's hook."""
    tls = str(alerts.tls).lower() if alerts.tls else "false"
    extra = {
        "from_email": alerts.sender,
        "timeout": int(alerts.timeout),
        "disable_ssl": tls != "ssl",  # the hook's SMTP_SSL
        "disable_tls": tls != "starttls",  # the hook's STARTTLS on a plain connection
    }
    conn: dict[str, Any] = {
        "conn_type": "smtp",
        "host": alerts.smtp_host,
        "port": alerts.smtp_port,
        "extra": extra,
    }
    if alerts.smtp_user:
        conn["login"] = alerts.smtp_user
        conn["password"] = alerts.smtp_password or ""
    return conn


def describe(alerts: AlertSettings) -> str:
    """One line for the operator: where failure emails go, with no secret in it."""
    login = "login from BANWATCH_SMTP_USER" if alerts.smtp_user else "no login"
    return (
        f"banwatch: smtp_default -> {alerts.smtp_host}:{alerts.smtp_port} "
        f"(tls: {alerts.tls or 'off'}, {login}, from {alerts.sender})"
    )


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m banwatch.airflow_smtp CONFIG", file=sys.stderr)
        return 2
    try:
        alerts = load_settings(argv[0]).alerts
    except BanwatchError as exc:
        print(f"banwatch: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(smtp_connection(alerts)))
    print(describe(alerts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
