"""Send the alert outbox over SMTP: one email per new event, never twice, never lost.

Delivery is at-least-once with a dedupe key. Each row is claimed (`sending`, attempts + 1,
committed) before its email goes out and marked `sent` (committed) right after the SMTP server
accepts it. A crash in that one-commit window leaves the row `sending`; the next pass sends it
again with the same Message-ID (`<event_id@banwatch>`), which mail clients use to drop the
duplicate. The alternative, never resending a `sending` row, could lose an alert.

Failures: a temporary SMTP error (4xx, a dropped connection) puts the row back to `pending`
for the next pass, until `MAX_ATTEMPTS`; a permanent one (5xx) marks it `failed`. Either way the
other rows are still sent. When the server cannot be reached or refuses the login, nothing is
claimed: every row stays `pending` with the reason in `last_error`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections import Counter
from email.message import EmailMessage
from typing import Protocol

import duckdb

from alerts.compose import compose_alert
from banwatch.config import AlertSettings
from banwatch.errors import AlertError
from warehouse import outbox

logger = logging.getLogger(__name__)


class SmtpSendError(AlertError):
    """One email was not accepted. `permanent` (5xx) ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, connection: bool = False):
        self.permanent = permanent
        self.connection = connection  # the server is unreachable: later emails would fail too
        super().__init__(message)


class Mailer(Protocol):
    def open(self) -> None: ...

    def send(self, msg: EmailMessage) -> None: ...

    def close(self) -> None: ...


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = (
            exc.smtp_error.decode(errors="replace")
            if isinstance(exc.smtp_error, bytes)
            else exc.smtp_error
        )
        return f"SMTP {exc.smtp_code} {' '.join(str(text).split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "all recipients refused: " + ", ".join(
            f"{r} ({code})" for r, (code, _) in exc.recipients.items()
        )
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


class SmtpMailer:
    """Sends through the configured SMTP server with smtplib; one connection per pass.

    `tls`: false (plain), "starttls" or "ssl". Login only when BANWATCH_SMTP_USER is set.
    """

    def __init__(self, settings: AlertSettings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    @property
    def server(self) -> str:
        return f"{self.settings.smtp_host}:{self.settings.smtp_port}"

    def open(self) -> None:
        """Connect (and log in); `SmtpSendError(connection=True)` says how to fix a failure."""
        if self._smtp is not None:
            return
        s = self.settings
        try:
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.smtp_host,
                    s.smtp_port,
                    timeout=s.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
                if s.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpSendError(
                f"SMTP login to {self.server} refused ({_describe(exc)}); check "
                "BANWATCH_SMTP_USER and BANWATCH_SMTP_PASSWORD",
                connection=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpSendError(
                f"cannot reach SMTP server {self.server} ({_describe(exc)}); check "
                "alerts.smtp_host, alerts.smtp_port and alerts.tls; alerts stay queued",
                connection=True,
            ) from None
        self._smtp = smtp

    def send(self, msg: EmailMessage) -> None:
        """Send one message; raises `SmtpSendError` when the server does not accept it."""
        self.open()
        assert self._smtp is not None
        try:
            refused = self._smtp.send_message(msg)
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise SmtpSendError(f"{self.server} disconnected ({_describe(exc)})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            permanent = all(code >= 500 for code, _ in exc.recipients.values())
            raise SmtpSendError(_describe(exc), permanent=permanent) from None
        except smtplib.SMTPResponseException as exc:
            raise SmtpSendError(_describe(exc), permanent=exc.smtp_code >= 500) from None
        except OSError as exc:
            self.close()
            raise SmtpSendError(f"{self.server}: {_describe(exc)}", connection=True) from None
        if refused:
            logger.warning("some recipients refused %s: %s", msg["Message-ID"], refused)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                self._smtp.close()
            self._smtp = None

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_alerts(
    con: duckdb.DuckDBPyConnection, mailer: Mailer, settings: AlertSettings
) -> dict[str, int]:
    """Send every due outbox row; returns counts (sent, retry, failed, pending, ...).

    With `alerts.enabled = false` nothing is sent and the rows stay pending.
    """
    due = outbox.outbox_event_ids(con)
    counts: Counter[str] = Counter(sent=0, retry=0, failed=0)
    if not due:
        return dict(counts, pending=0)
    if not settings.enabled:
        logger.info("alerts disabled: %d emails stay queued", len(due))
        return dict(counts, pending=len(due), disabled=len(due))
    try:
        mailer.open()
    except SmtpSendError as exc:
        logger.warning("%s (%d emails stay queued)", exc, len(due))
        outbox.note_error(con, due, str(exc))
        return dict(counts, pending=len(due))
    try:
        for i, event_id in enumerate(due):
            event, sources = outbox.alert_payload(con, event_id)
            msg = compose_alert(
                event, sources, sender=settings.sender, recipients=settings.recipients
            )
            if outbox.claim_alert(con, event_id) is None:
                continue
            try:
                mailer.send(msg)
            except SmtpSendError as exc:
                status = outbox.mark_unsent(con, event_id, str(exc), permanent=exc.permanent)
                counts["failed" if status == "failed" else "retry"] += 1
                logger.warning("alert %s not sent (%s): %s", event_id, status, exc)
                if exc.connection:  # the server went away: the rest waits for the next pass
                    outbox.note_error(con, due[i + 1 :], str(exc))
                    break
                continue
            outbox.mark_sent(con, event_id, msg["Message-ID"])
            counts["sent"] += 1
            logger.info("alert sent for %s: %s", event_id, msg["Subject"])
    finally:
        mailer.close()
    counts["pending"] = len(outbox.outbox_event_ids(con))
    logger.info("alerts: %s", dict(counts))
    return dict(counts)
