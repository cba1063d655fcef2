"""banwatch alerts stage: one email per new event, composed from templates, sent from an outbox.

Imported lazily so that importing the package (e.g. at DAG parse time) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DirectoryMailer", "SmtpMailer", "compose_alert", "mailer_for", "send_alerts"]


def __getattr__(name: str) -> Any:
    if name == "compose_alert":
        from banwatch.alerts.compose import compose_alert

        return compose_alert
    if name in ("DirectoryMailer", "SmtpMailer", "mailer_for", "send_alerts"):
        from banwatch.alerts import send

        return getattr(send, name)
    raise AttributeError(f"module 'alerts' has no attribute {name!r}")
