"""What each SMTP refusal does to the outbox, against a real SMTP server on 127.0.0.1 (aiosmtpd).

Nothing lost: configuration and temporary errors keep alerts pending; a refused recipient is
recorded while the others get the email; an email refused as a whole is retried on
`alerts.max_refusals` passes, then waits for `banwatch alerts resend`.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
import tomli_w
from banwatch.alerts.send import SmtpMailer, send_alerts
from banwatch.warehouse import outbox, store
from test_alerts import article, detection, load, settings_for, uk_ban

from tests.support.mailsink import free_port

ANALYSTS, DESK = "analysts@example.org", "desk@example.org"


class ScriptedServer:
    """An SMTP server whose replies to MAIL, RCPT (per address) and DATA a test sets.

    `None` means accept. Emails accepted are kept with their envelope recipients; `data_calls`
    counts DATA commands, so a test can tell an attempt from no attempt.
    """

    def __init__(self) -> None:
        self.mail: str | None = None
        self.rcpt: dict[str, str] = {}
        self.data: str | None = None
        self.received: list[tuple[list[str], Any]] = []
        self.data_calls = 0

    async def handle_MAIL(self, server, session, envelope, address, options):  # noqa: N802
        if self.mail:
            return self.mail
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
        if address in self.rcpt:
            return self.rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.data_calls += 1
        if self.data:
            return self.data
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), msg))
        return "250 OK"

    def fix(self) -> None:
        """The operator fixed the server (or its config): everything is accepted again."""
        self.mail, self.rcpt, self.data = None, {}, None


@pytest.fixture
def smtp() -> Iterator[tuple[ScriptedServer, int]]:
    from aiosmtpd.controller import Controller

    handler = ScriptedServer()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def two_events(con) -> None:
    uk_ban(con)
    load(con, [(article(3, "Montana bans WeChat", "Local"), detection("art3", app="WeChat"))])


def one_pass(con, port: int, **kw: Any) -> dict[str, int]:
    settings = settings_for(port).replace(**kw)
    return send_alerts(con, SmtpMailer(settings), settings)


def rows(con) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT status, attempts, refusals, last_error FROM alerts ORDER BY queued_at, event_id"
    ).fetchall()


def recipients(con) -> dict[str, tuple[str, int | None]]:
    found = con.execute("SELECT recipient, status, smtp_code FROM alert_recipients").fetchall()
    return {r: (s, c) for r, s, c in found}


def test_530_authentication_required_keeps_every_alert_pending(con, smtp):
    server, port = smtp
    two_events(con)
    server.mail = "530 5.7.0 Authentication required"
    for _ in range(4):  # more passes than alerts.max_refusals: still never `failed`
        counts = one_pass(con, port)
        assert counts["sent"] == 0 and counts["undelivered"] == 2 and counts["failed"] == 0
    assert [r[:3] for r in rows(con)] == [("pending", 4, 0), ("pending", 0, 0)]
    first, second = (r[3] for r in rows(con))
    assert "530" in first and "BANWATCH_SMTP_USER" in first
    assert second == first  # the second row waited: it was not tried against the same refusal
    server.fix()
    assert one_pass(con, port)["sent"] == 2
    assert [sorted(rcpt) for rcpt, _ in server.received] == [[ANALYSTS, DESK]] * 2


def test_550_on_one_recipient_is_recorded_and_the_other_gets_the_email(con, smtp):
    server, port = smtp
    uk_ban(con)
    server.rcpt = {ANALYSTS: "550 5.7.1 Relaying denied"}
    counts = one_pass(con, port)
    assert counts["sent"] == 1 and counts["recipients_refused"] == 1
    assert [rcpt for rcpt, _ in server.received] == [[DESK]]
    status, _, _, error = rows(con)[0]
    assert status == "sent" and f"{ANALYSTS} (SMTP 550 5.7.1 Relaying denied)" in error
    assert recipients(con) == {ANALYSTS: ("refused", 550), DESK: ("accepted", None)}
    assert one_pass(con, port)["sent"] == 0  # a permanent refusal is not retried on its own
    # After fixing the relay, a resend reaches the refused address only: desk never gets two.
    server.fix()
    (event_id,) = con.execute("SELECT event_id FROM alerts").fetchone()
    assert outbox.resend(con, event_id) == "sent"
    assert one_pass(con, port)["sent"] == 1
    assert [rcpt for rcpt, _ in server.received] == [[DESK], [ANALYSTS]]
    assert recipients(con) == {ANALYSTS: ("accepted", None), DESK: ("accepted", None)}


def test_550_on_the_only_recipient_is_retried_then_failed_then_resent(con, smtp):
    server, port = smtp
    uk_ban(con)
    server.rcpt = {ANALYSTS: "550 5.7.1 Relaying denied"}
    only = {"recipients": [ANALYSTS], "max_refusals": 2}
    assert one_pass(con, port, **only)["refused"] == 1
    assert rows(con)[0][:3] == ("pending", 1, 1)
    assert one_pass(con, port, **only)["failed"] == 1
    assert rows(con)[0][:3] == ("failed", 2, 2)
    assert recipients(con) == {ANALYSTS: ("refused", 550)}
    assert one_pass(con, port, **only)["undelivered"] == 0  # failed: no longer tried
    server.fix()
    (event_id,) = outbox.failed_event_ids(con)
    assert outbox.resend(con, event_id) == "failed"
    assert one_pass(con, port, **only)["sent"] == 1
    assert [rcpt for rcpt, _ in server.received] == [[ANALYSTS]]


def test_554_refused_as_spam_is_retried_a_bounded_number_of_times(con, smtp):
    server, port = smtp
    uk_ban(con)
    server.data = "554 5.7.1 Message rejected as spam"
    assert one_pass(con, port, max_refusals=3)["refused"] == 1
    assert one_pass(con, port, max_refusals=3)["refused"] == 1
    assert one_pass(con, port, max_refusals=3)["failed"] == 1
    status, attempts, refusals, error = rows(con)[0]
    assert (status, attempts, refusals) == ("failed", 3, 3)
    assert f"127.0.0.1:{port} refused the email (SMTP 554 5.7.1 Message rejected as spam)" in error
    assert one_pass(con, port, max_refusals=3)["undelivered"] == 0
    assert server.data_calls == 3  # the fourth pass did not try it again
    assert server.received == []


@pytest.mark.parametrize("reply", ["451 4.3.0 Try again later", "452 4.3.1 Out of storage"])
def test_4xx_on_data_keeps_alerts_pending_without_limit(con, smtp, reply):
    server, port = smtp
    two_events(con)
    server.data = reply
    for _ in range(5):
        counts = one_pass(con, port, max_refusals=2)
        assert counts["retry"] == 2 and counts["failed"] == 0 and counts["refused"] == 0
    assert [r[:3] for r in rows(con)] == [("pending", 5, 0)] * 2  # each tried every pass
    assert server.data_calls == 10
    server.fix()
    assert one_pass(con, port)["sent"] == 2


def test_421_closing_stops_the_pass_and_keeps_the_rest_queued(con, smtp):
    server, port = smtp
    two_events(con)
    server.data = "421 4.3.2 Service shutting down"
    counts = one_pass(con, port)
    assert counts["undelivered"] == 2 and counts["retry"] == 2 and counts["failed"] == 0
    assert server.data_calls == 1  # the second email was not sent into a closing server
    assert [r[:3] for r in rows(con)] == [("pending", 1, 0), ("pending", 0, 0)]
    assert all("421" in r[3] for r in rows(con))
    server.fix()
    assert one_pass(con, port)["sent"] == 2


def test_451_on_one_recipient_retries_only_that_recipient(con, smtp):
    server, port = smtp
    uk_ban(con)
    server.rcpt = {ANALYSTS: "451 4.7.1 Greylisted, try again"}
    counts = one_pass(con, port)
    assert counts["sent"] == 0 and counts["undelivered"] == 1
    assert rows(con)[0][0] == "pending"
    assert recipients(con) == {ANALYSTS: ("deferred", 451), DESK: ("accepted", None)}
    server.fix()
    assert one_pass(con, port)["sent"] == 1
    assert [rcpt for rcpt, _ in server.received] == [[DESK], [ANALYSTS]]
    assert len({m["Message-ID"] for _, m in server.received}) == 1


def test_connection_refused_keeps_alerts_pending_pass_after_pass(con):
    two_events(con)
    port = free_port()  # nothing listens there
    for _ in range(4):
        counts = one_pass(con, port, max_refusals=2)
        assert counts["undelivered"] == 2 and counts["pending"] == 2 and counts["failed"] == 0
    assert [r[:3] for r in rows(con)] == [("pending", 0, 0)] * 2
    assert f"cannot reach SMTP server 127.0.0.1:{port}" in rows(con)[0][3]


# ---------------------------------------------------------------- banwatch alerts


@pytest.fixture
def refused_config(tmp_path, smtp):
    """A warehouse whose one alert the server refused as spam twice (max_refusals = 2)."""
    server, port = smtp
    db = tmp_path / "bw.duckdb"
    config = tmp_path / "banwatch.toml"
    settings = {
        "warehouse": {"path": db.as_posix()},
        "alerts": {
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "max_refusals": 2,
            "recipients": [ANALYSTS, DESK],
        },
    }
    config.write_text(tomli_w.dumps(settings), encoding="utf-8")
    with store.connect(db) as connection:
        uk_ban(connection)
        server.data = "554 5.7.1 Message rejected as spam"
        one_pass(connection, port, max_refusals=2)
        one_pass(connection, port, max_refusals=2)
        (event_id,) = connection.execute("SELECT event_id FROM alerts").fetchone()
    return config, event_id, server, port


def cli(*args: str):
    from click.testing import CliRunner

    from banwatch.cli import cli as command

    return CliRunner().invoke(command, list(args))


def test_alerts_list_resend_and_skip_print_exactly_this(refused_config):
    config, event_id, server, port = refused_config
    error = f"127.0.0.1:{port} refused the email (SMTP 554 5.7.1 Message rejected as spam)"
    listed = cli("alerts", "list", "--config", str(config), "--csv")
    assert listed.exit_code == 0, listed.output
    assert listed.output == (
        "event_id,status,attempts,refusals,jurisdiction,app,action,not_delivered_to,last_error\n"
        f"{event_id},failed,2,2,United Kingdom,TikTok,ban,,{error}\n"
    )
    assert cli("alerts", "list", "--config", str(config), "--status", "sent", "--csv").output == (
        "event_id,status,attempts,refusals,jurisdiction,app,action,not_delivered_to,last_error\n"
    )
    resent = cli("alerts", "resend", "--all-failed", "--config", str(config))
    assert resent.exit_code == 0
    assert resent.output == f"alert {event_id} queued for the next pass (was failed)\n"
    again = cli("alerts", "resend", event_id, "--config", str(config))
    assert again.output == f"alert {event_id} is already queued (pending)\n"
    none = cli("alerts", "resend", "--all-failed", "--config", str(config))
    assert none.output == "no failed alerts to resend\n"
    skipped = cli("alerts", "skip", event_id, "--config", str(config))
    assert skipped.output == f"alert {event_id} skipped (was pending); it will not be sent\n"
    with store.connect(config.parent / "bw.duckdb") as con:
        assert one_pass(con, port)["sent"] == 0  # skipped: never sent
        assert outbox.resend(con, event_id) == "skipped"
        server.fix()
        assert one_pass(con, port)["sent"] == 1
    assert [sorted(rcpt) for rcpt, _ in server.received] == [[ANALYSTS, DESK]]
    sent_twice = cli("alerts", "skip", event_id, "--config", str(config))
    assert sent_twice.exit_code == 1
    assert sent_twice.output == (
        f"Error: alert {event_id} was already sent; nothing to skip "
        "(`banwatch alerts list` shows who did not get it)\n"
    )


def test_alerts_commands_fail_in_one_line(refused_config, tmp_path):
    config = refused_config[0]
    unknown = cli("alerts", "resend", "0123456789abcdef", "--config", str(config))
    assert unknown.exit_code == 1
    assert unknown.output == (
        "Error: no alert for event 0123456789abcdef; `banwatch alerts list` shows the outbox\n"
    )
    both = cli("alerts", "resend", "abc", "--all-failed", "--config", str(config))
    assert both.exit_code == 2 and "Error: give one EVENT_ID or --all-failed" in both.output
    assert cli("alerts", "resend", "--config", str(config)).exit_code == 2
    bad = cli("alerts", "list", "--status", "lost", "--config", str(config))
    assert bad.exit_code == 2 and "'lost' is not one of" in bad.output
    empty = tmp_path / "empty.toml"
    nowhere = {"warehouse": {"path": (tmp_path / "none.duckdb").as_posix()}}
    empty.write_text(tomli_w.dumps(nowhere), encoding="utf-8")
    missing = cli("alerts", "list", "--config", str(empty))
    assert missing.exit_code == 1
    none = (tmp_path / "none.duckdb").as_posix()
    assert missing.output == f"Error: {none}: no warehouse yet; run `banwatch run` once\n"
