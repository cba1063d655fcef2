"""`banwatch demo` / `make demo`: the real pipeline over the bundled sample corpus, offline.

The sample newsroom is served on 127.0.0.1 and alert emails go to a local SMTP sink that saves
them as .eml files, so the demo shows every stage without touching the internet.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from banwatch.config import load_settings
from banwatch.errors import BanwatchError
from banwatch.mailsink import MailSink

logger = logging.getLogger(__name__)

CONFIG_TEMPLATE = """\
# Written by `banwatch demo`: the sample newsroom served on {base}.
[warehouse]
path = "{workdir}/banwatch.duckdb"
[staging]
dir = "{workdir}/staging"
[fetch]
allowed_hosts = ["127.0.0.1"]
timeout = 10
[alerts]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
sender = "banwatch@example.org"
recipients = ["analysts@example.org"]
recency_days = 14
{min_confidence}{decider}{feeds}"""


def write_config(
    workdir: Path,
    newsroom: Any,
    smtp_port: int,
    *,
    decider: str = "",
    min_confidence: float | None = None,
) -> Path:
    """The demo's config. `decider` sets `detect.decider` and `min_confidence` sets
    `alerts.min_confidence`: the spine's tests let the rules decide with their old 0.5 floor,
    so that they test the stages, not the model's reading of the sample."""
    feeds = "".join(
        f'\n[[feeds]]\nname = "{outlet}"\nurl = "{newsroom.feed_url(outlet)}"\n'
        for outlet in newsroom.outlets
    )
    path = workdir / "banwatch.toml"
    path.write_text(
        CONFIG_TEMPLATE.format(
            base=newsroom.base_url,
            workdir=workdir.as_posix(),
            smtp_port=smtp_port,
            feeds=feeds,
            min_confidence="" if min_confidence is None else f"min_confidence = {min_confidence}\n",
            decider=f'[detect]\ndecider = "{decider}"\n' if decider else "",
        ),
        encoding="utf-8",
    )
    return path


def _prepare_workdir(workdir: Path) -> None:
    """Create WORKDIR and clear the last demo's warehouse, or say in one line why it cannot."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in ("banwatch.duckdb", "banwatch.duckdb.wal", "banwatch.read.duckdb"):
            (workdir / stale).unlink(missing_ok=True)  # the demo starts from an empty warehouse
        with tempfile.TemporaryFile(dir=workdir):  # writable? (the warehouse and mail go here)
            pass
    except OSError as exc:
        raise BanwatchError(
            f"{workdir}: cannot use it as the demo directory ({exc.strerror or exc}); pass "
            "--dir DIR with a directory you can create and write"
        ) from exc


def run_demo(
    workdir: str | Path,
    *,
    progress: Callable[[str, dict[str, Any]], None] | None = None,
    keep_serving: bool = False,
) -> None:
    from banwatch.cli import emit
    from banwatch.newsroom import Newsroom
    from banwatch.pipeline import run_pass
    from banwatch.sample import load_sample
    from banwatch.warehouse.store import open_reader

    workdir = Path(workdir)
    _prepare_workdir(workdir)
    items = load_sample(max_phase=1)
    with Newsroom(items) as newsroom, MailSink(directory=workdir / "mail") as sink:
        config = write_config(workdir, newsroom, sink.port)
        settings = load_settings(config)
        click.echo(
            f"sample newsroom: {len(items)} articles from {len(newsroom.outlets)} outlets "
            f"at {newsroom.base_url}",
            err=True,
        )
        summary = run_pass(settings, progress=progress)
        deadline = time.monotonic() + 5
        while len(sink.messages) < summary.emails_sent and time.monotonic() < deadline:
            time.sleep(0.05)
        click.echo(summary.line())
        with open_reader(settings.warehouse.snapshot) as con:
            cursor = con.execute(
                "SELECT jurisdiction, country, subdivision, app, scope, action, announced_on, "
                "source_count, round(confidence, 2) AS confidence FROM ban_events "
                "ORDER BY announced_on, jurisdiction"
            )
            click.echo()
            emit([d[0] for d in cursor.description], cursor.fetchall(), "table")
            cursor = con.execute(
                "SELECT jurisdiction, app, scope, action, round(confidence, 2) AS confidence, "
                "left(evidence, 70) AS evidence FROM ban_event_candidates "
                "ORDER BY confidence DESC, jurisdiction"
            )
            candidates = cursor.fetchall()
            if candidates:
                click.echo(
                    f"\ncandidates awaiting review (confidence below alerts.min_confidence = "
                    f"{settings.alerts.min_confidence}, not emailed):"
                )
                emit([d[0] for d in cursor.description], candidates, "table")
        click.echo()
        click.echo(
            f"warehouse: {settings.warehouse.path} "
            f"(read-only snapshot: {settings.warehouse.snapshot})"
        )
        click.echo(f"alert emails: {len(sink.messages)} saved in {workdir / 'mail'}")
        click.echo(f'query it:  banwatch sql --config {config} "SELECT * FROM ban_events"')
        if keep_serving:
            click.echo(f"serving {newsroom.base_url} until Ctrl-C", err=True)
            try:
                while True:
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
