"""Send the alert outbox over SMTP: one email per new event, never twice, never lost.

Delivery is at-least-once with a dedupe key. Each row is claimed (`sending`, attempts + 1,
committed) before its email goes out and marked `sent` (committed) right after the SMTP server
accepts it. A crash in that one-commit window leaves the row `sending`; the next pass sends it
again with the same Message-ID (`<event_id@sender-domain>`), which mail clients use to drop
the duplicate. The alternative, never resending a `sending` row, could lose an alert.

One message per event goes to all recipients at once: they are in the SMTP envelope only (the
`To:` header is the sender, the list address), so nobody sees who else gets it, and the server's
answer per recipient (RCPT) is what `alert_recipients` records.

What the server says is classified (`SmtpSendError.kind`), because only some refusals are final:

- `connection` (cannot connect, TLS, a dropped link, 421) and `config` (login refused, 530
  "authentication required"): the row stays `pending` and the rest of the pass is not tried;
  every due row waits for the next pass with the reason in `last_error`.
- `transient` (any other 4xx): this row stays `pending` for the next pass; the others go on.
- a 5xx to one recipient (RCPT): recorded for that address in `alert_recipients`; the others
  still get the email and the row is `sent`.
- `refused` (5xx to MAIL or DATA, or to every recipient): the email itself was refused; it is
  tried again on later passes until `alerts.max_refusals`, then `failed` until an operator runs
  `banwatch alerts resend EVENT_ID`.

With `alerts.mail_dir` set, `send_alerts` writes each email as an .eml file there instead
(`DirectoryMailer`: the demo, a dry run); the outbox bookkeeping is the same.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import os
import smtplib
import ssl
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import duckdb
from banwatch.alerts.compose import compose_alert
from banwatch.warehouse import outbox

from banwatch.config import AlertSettings
from banwatch.errors import AlertError

logger = logging.getLogger(__name__)


AUTH_CODES = frozenset({530, 534, 535, 538})  # login required/refused, TLS required
KINDS = ("connection", "config", "transient", "refused")
# When recipients were refused with different codes, the one that says most about the server
# wins: a login demand or a closing server stops the pass; one 4xx among 5xx means "retry".
_SEVERITY = ("refused", "transient", "config", "connection")


class SmtpSendError(AlertError):
    """One email was not accepted. `kind` says what happens to it (see the module docstring);
    `outcomes` holds the recipients the server answered for, as `outbox.Outcome`s."""

    def __init__(
        self,
        message: str,
        *,
        kind: str = "transient",
        outcomes: dict[str, outbox.Outcome] | None = None,
    ):
        assert kind in KINDS, kind
        self.kind = kind
        self.outcomes = outcomes or {}
        super().__init__(message)

    @property
    def stops_pass(self) -> bool:
        """The server cannot take any email now: later rows would fail the same way."""
        return self.kind in ("connection", "config")


def kind_of(code: int) -> str:
    """What an SMTP reply code to MAIL, DATA or a whole RCPT list means for the email."""
    if code == 421:
        return "connection"
    if code in AUTH_CODES:
        return "config"
    return "transient" if code < 500 else "refused"


def _text(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())


def _recipient_outcomes(refused: dict[str, tuple[int, bytes | str]]) -> dict[str, outbox.Outcome]:
    """RCPT refusals per address: 5xx (but a login demand) is final, anything else deferred."""
    return {
        rcpt: (
            "refused" if code >= 500 and code not in AUTH_CODES else "deferred",
            code,
            _text(text),
        )
        for rcpt, (code, text) in refused.items()
    }


class Mailer(Protocol):
    def open(self) -> None: ...

    def send(
        self, msg: EmailMessage, recipients: list[str] | None = None
    ) -> dict[str, tuple[int, bytes]]: ...

    def close(self) -> None: ...


def _refusals(refused: dict[str, tuple[int, bytes | str]]) -> str:
    return ", ".join(f"{r} (SMTP {code} {_text(text)})" for r, (code, text) in refused.items())


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code} {_text(exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient refused: " + _refusals(exc.recipients)
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
        """Connect (and log in); a failure is an `SmtpSendError` of kind connection or config."""
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
                "BANWATCH_SMTP_USER and BANWATCH_SMTP_PASSWORD; alerts stay queued",
                kind="config",
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpSendError(
                f"cannot reach SMTP server {self.server} ({_describe(exc)}); check "
                "alerts.smtp_host, alerts.smtp_port and alerts.tls; alerts stay queued",
                kind="connection",
            ) from None
        self._smtp = smtp

    def send(
        self, msg: EmailMessage, recipients: list[str] | None = None
    ) -> dict[str, tuple[int, bytes]]:
        """Send one message to `recipients` (the envelope; default: its To header); returns the
        recipients refused while others accepted it.

        Raises `SmtpSendError` (with its `kind`) when nobody accepted it.
        """
        self.open()
        assert self._smtp is not None
        try:
            return self._smtp.send_message(msg, to_addrs=recipients)
        except smtplib.SMTPServerDisconnected as exc:
            self._smtp = None
            raise SmtpSendError(f"{self.server} disconnected ({_describe(exc)})") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            kind = max((kind_of(c) for c in codes), key=_SEVERITY.index)
            raise SmtpSendError(
                self._hint(_describe(exc), kind),
                kind=kind,
                outcomes=_recipient_outcomes(exc.recipients),
            ) from None
        except smtplib.SMTPResponseException as exc:
            kind = kind_of(exc.smtp_code)
            raise SmtpSendError(self._hint(_describe(exc), kind), kind=kind) from None
        except OSError as exc:
            self.close()
            raise SmtpSendError(f"{self.server}: {_describe(exc)}", kind="connection") from None
        finally:
            if self._smtp is not None and self._smtp.sock is None:  # smtplib closed it (421)
                self._smtp = None

    def _hint(self, detail: str, kind: str) -> str:
        if kind == "config":
            return (
                f"{self.server} requires a login ({detail}); set BANWATCH_SMTP_USER and "
                "BANWATCH_SMTP_PASSWORD; alerts stay queued"
            )
        if kind == "refused":
            return f"{self.server} refused the email ({detail})"
        if kind == "connection":
            return f"{self.server} closed the connection ({detail}); alerts stay queued"
        return f"{self.server} deferred the email ({detail})"

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


class DirectoryMailer:
    """Delivers into a directory: one .eml file per message, for the demo or a dry run.

    Files are written atomically (a hidden temporary file renamed into place), so a reader never
    sees half a message, and named `<UTC time>-<sequence>.eml`, so they sort in delivery order.
    The envelope recipients, which are not in the headers, go in an `X-Envelope-To` header.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._sequence = itertools.count(1)

    def open(self) -> None:
        """Create the directory; a failure stops the pass like an unreachable SMTP server."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SmtpSendError(
                f"cannot write alert emails to {self.directory} ({exc.strerror or exc}); check "
                "alerts.mail_dir; alerts stay queued",
                kind="connection",
            ) from None

    def send(
        self, msg: EmailMessage, recipients: list[str] | None = None
    ) -> dict[str, tuple[int, bytes]]:
        """Write `msg` as one .eml file; every recipient counts as accepted."""
        self.open()
        to = recipients if recipients is not None else [str(a) for a in msg.get_all("To", [])]
        envelope = f"X-Envelope-To: {', '.join(to)}\n".encode()
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{next(self._sequence):04d}.eml"
        path = self.directory / name
        tmp = self.directory / f".{name}.{os.getpid()}.tmp"  # not *.eml: readers skip it
        try:
            with tmp.open("xb") as out:  # the umask's permissions, as a mail spool has
                out.write(envelope + msg.as_bytes())
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise SmtpSendError(
                f"cannot write {path} ({exc.strerror or exc}); alerts stay queued",
                kind="connection",
            ) from None
        logger.debug("alert email written to %s", path)
        return {}

    def close(self) -> None:
        """Nothing to close: each message is its own file."""


def mailer_for(settings: AlertSettings) -> Mailer:
    """The configured delivery: .eml files when `alerts.mail_dir` is set, else SMTP."""
    if settings.mail_dir:
        return DirectoryMailer(settings.mail_dir)
    return SmtpMailer(settings)


def send_alerts(
    con: duckdb.DuckDBPyConnection, mailer: Mailer, settings: AlertSettings
) -> dict[str, int]:
    """Send every due outbox row; returns counts.

    `sent`, `retry` (pending again: 4xx, connection, login), `refused` (refused as a whole,
    retried later), `failed` (refused `alerts.max_refusals` times), `undelivered` (rows left
    pending or failed by SMTP this pass), `recipients_refused` (5xx for one address of an email
    others got), `pending` (due rows left), `old_news` (skipped: old news at first sight, see
    `outbox.skip_old_news`, which runs first). With `alerts.enabled = false` nothing is sent.

    With `alerts.mail_dir` set the emails are written there (`DirectoryMailer`) instead of going
    through `mailer`: the setting wins over the SMTP mailer the caller built.
    """
    if settings.mail_dir:
        mailer = DirectoryMailer(settings.mail_dir)
    old_news = outbox.skip_old_news(con, settings.recency_days)
    due = outbox.outbox_event_ids(con)
    counts: Counter[str] = Counter(
        sent=0, retry=0, refused=0, failed=0, undelivered=0, recipients_refused=0
    )
    counts["old_news"] = len(old_news)
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
        return dict(counts, pending=len(due), retry=len(due), undelivered=len(due))
    try:
        for i, event_id in enumerate(due):
            stop = _send_one(con, mailer, settings, event_id, counts)
            if stop is not None:  # the rest waits for the next pass instead of each timing out
                rest = due[i + 1 :]
                outbox.note_error(con, rest, str(stop))
                counts["retry"] += len(rest)
                counts["undelivered"] += len(rest)
                break
    finally:
        mailer.close()
    counts["pending"] = len(outbox.outbox_event_ids(con))
    logger.info("alerts: %s", dict(counts))
    return dict(counts)


def _send_one(
    con: duckdb.DuckDBPyConnection,
    mailer: Mailer,
    settings: AlertSettings,
    event_id: str,
    counts: Counter[str],
) -> SmtpSendError | None:
    """Claim, send and record one row; returns the error when the rest of the pass must wait."""
    recipients = outbox.recipients_due(con, event_id, list(settings.recipients))
    event, sources = outbox.alert_payload(con, event_id)
    previous = outbox.previous_state(con, event)
    msg = compose_alert(event, sources, sender=settings.sender, previous=previous)
    if outbox.claim_alert(con, event_id) is None:
        return None
    if not recipients:  # every configured address already accepted it (before a crash)
        outbox.mark_sent(con, event_id, msg["Message-ID"])
        return None
    try:
        refused = mailer.send(msg, recipients)
    except SmtpSendError as exc:
        if exc.kind == "refused":
            status = outbox.mark_refused(
                con, event_id, str(exc), settings.max_refusals, exc.outcomes
            )
            counts["failed" if status == "failed" else "refused"] += 1
        else:
            outbox.mark_unsent(con, event_id, str(exc), exc.outcomes)
            status = "pending"
            counts["retry"] += 1
        counts["undelivered"] += 1
        logger.warning("alert %s not sent (%s, %s): %s", event_id, status, exc.kind, exc)
        return exc if exc.stops_pass else None
    outcomes = {r: ("accepted", None, None) for r in recipients if r not in refused}
    outcomes.update(_recipient_outcomes(refused))
    error = f"not accepted for {_refusals(refused)}" if refused else None
    status = outbox.record_delivery(con, event_id, msg["Message-ID"], outcomes, error=error)
    counts["recipients_refused"] += sum(o[0] == "refused" for o in outcomes.values())
    if status == "sent":
        counts["sent"] += 1
        logger.info("alert sent for %s: %s", event_id, msg["Subject"])
    else:
        counts["retry"] += 1
        counts["undelivered"] += 1
    if refused:
        logger.warning("alert %s (%s) %s", event_id, status, error)
    return None
