"""`make airflow`'s script: binds 127.0.0.1, Ctrl-C stops every process, smtp_default is set.

The script runs for real (bash) in a copy of the repository layout whose `.venv/bin/airflow` is
a stand-in: `airflow standalone` there records its environment and starts workers that ignore
SIGINT, as the scheduler's did. Ctrl-C (SIGINT to the script) must stop them all. The real
scheduler runs in tests/test_airflow_scheduler.py (slow). The `smtp_default` connection the
script builds is then used by Airflow's own SMTP hook to send to a loopback SMTP server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.mailsink import MailSink

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "s3cret-Passw0rd"
STUB = """#!/usr/bin/env bash
# stand-in for airflow: `standalone` records what it was given and starts stubborn workers
[[ "$1" == standalone ]] || exit 0
env | grep -E '^(AIRFLOW__API__HOST|AIRFLOW_CONN_SMTP_DEFAULT)=' > "$STUB_DIR/env"
for _ in 1 2 3; do sleep 300 & echo $! >> "$STUB_DIR/pids"; done  # async: SIGINT ignored
echo $$ >> "$STUB_DIR/pids"
wait
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


@pytest.fixture
def standalone(tmp_path: Path):
    """Run the script in a copy of the repo layout with the stand-in airflow; yield its output."""
    repo, stub_dir = tmp_path / "repo", tmp_path / "stub"
    (repo / "scripts").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    stub_dir.mkdir()
    shutil.copy(ROOT / "scripts" / "airflow_standalone.sh", repo / "scripts")
    (repo / ".venv" / "bin" / "airflow").write_text(STUB)
    (repo / ".venv" / "bin" / "airflow").chmod(0o755)
    # a wrapper, not a symlink: a symlinked venv python outside its venv loses the venv's
    # site-packages (Python finds pyvenv.cfg next to the path it was started by)
    (repo / ".venv" / "bin" / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    config = tmp_path / "banwatch.toml"
    config.write_text(
        '[alerts]\nsmtp_host = "127.0.0.1"\nsmtp_port = 2525\ntls = "starttls"\n'
        'sender = "banwatch@desk.example"\n'
        '[[feeds]]\nname = "wire"\nurl = "http://127.0.0.1:1/feed.xml"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BANWATCH"))}
    env.update(
        STUB_DIR=str(stub_dir),
        BANWATCH_CONFIG=str(config),
        BANWATCH_SMTP_USER="desk",
        BANWATCH_SMTP_PASSWORD=PASSWORD,
        AIRFLOW_HOME=str(tmp_path / "home"),
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.Popen(
        ["bash", str(repo / "scripts" / "airflow_standalone.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while (
            len((stub_dir / "pids").read_text().split() if (stub_dir / "pids").exists() else []) < 4
        ):
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the stand-in standalone did not start"
            time.sleep(0.2)
        yield proc, stub_dir
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        for pid in (stub_dir / "pids").read_text().split() if (stub_dir / "pids").exists() else []:
            if alive(int(pid)):
                os.kill(int(pid), signal.SIGKILL)


def test_ctrl_c_stops_every_airflow_process_and_binds_loopback(standalone) -> None:
    proc, stub_dir = standalone
    pids = [int(p) for p in (stub_dir / "pids").read_text().split()]
    assert all(alive(p) for p in pids)
    os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C delivers to the script
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert [p for p in pids if alive(p)] == [], output  # workers ignoring SIGINT too
    env = dict(line.split("=", 1) for line in (stub_dir / "env").read_text().splitlines())
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    conn = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
    assert (conn["host"], conn["port"], conn["login"]) == ("127.0.0.1", 2525, "desk")
    assert conn["extra"]["from_email"] == "banwatch@desk.example"
    assert conn["extra"]["disable_tls"] is False  # starttls
    assert "smtp_default -> 127.0.0.1:2525" in output
    assert PASSWORD not in output  # the secret is handed over, never printed


def test_the_smtp_default_connection_sends_airflows_failure_email(tmp_path: Path) -> None:
    """Airflow's SMTP hook, given only the connection the script builds, reaches the server."""
    pytest.importorskip("airflow.providers.smtp")
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from banwatch.airflow_smtp import smtp_connection
    from banwatch.config import AlertSettings

    with MailSink() as sink:
        conn = smtp_connection(AlertSettings(smtp_host="127.0.0.1", smtp_port=sink.port))
        os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps(conn)
        try:
            with SmtpHook(smtp_conn_id="smtp_default") as hook:
                hook.send_email_smtp(
                    to="ops@example.org", subject="[banwatch] task failed", html_content="x"
                )
        finally:
            os.environ.pop("AIRFLOW_CONN_SMTP_DEFAULT", None)
        deadline = time.monotonic() + 10
        while not sink.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    assert [m["Subject"] for m in sink.messages] == ["[banwatch] task failed"]
    assert sink.messages[0]["From"] == "banwatch@example.org"
