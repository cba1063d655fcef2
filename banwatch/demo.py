"""`banwatch demo` / `make demo`: the real pipeline over the bundled sample corpus, offline.

The sample newsroom (`banwatch.sample.newsroom`) serves the corpus on 127.0.0.1 and alert emails
are written as .eml files (`alerts.mail_dir`), so the demo shows every stage without touching
the internet, from any install. It returns what it found (`DemoResult`); `banwatch.output`
prints it.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from banwatch.config import Settings, load_settings
from banwatch.errors import BanwatchError
from banwatch.sample import load_sample
from banwatch.sample.newsroom import NewsItem, SampleNewsroom

if TYPE_CHECKING:
    from banwatch.records import PassSummary

logger = logging.getLogger(__name__)

MAIL_DIR = "mail"  # under the demo's directory
STALE_FILES = ("banwatch.duckdb", "banwatch.duckdb.wal", "banwatch.read.duckdb")

# What the demo prints of the two views (the query itself is warehouse.read.query_events).
EVENT_COLUMNS = (
    "jurisdiction", "country", "subdivision", "app", "scope", "action", "announced_on",
    "source_count", "confidence",
)  # fmt: skip
CANDIDATE_COLUMNS = ("jurisdiction", "app", "scope", "action", "confidence", "evidence")


def _beside(path: Path, workdir: Path) -> str:
    """`path` as the config in `workdir` should name it: relative when inside `workdir`."""
    try:
        return path.resolve().relative_to(workdir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def demo_config(
    workdir: Path,
    newsroom: SampleNewsroom,
    smtp_port: int | None = None,
    *,
    mail_dir: Path | None = None,
    decider: str = "",
    min_confidence: float | None = None,
) -> dict[str, Any]:
    """The demo's settings as TOML tables: the newsroom's feeds, alerts by SMTP or to files."""
    # The file sits in `workdir` and its relative paths resolve against it, so the demo's own
    # files are written as bare names and the directory can be moved or given relatively.
    alerts: dict[str, Any] = {}
    if mail_dir is not None:
        alerts["mail_dir"] = _beside(mail_dir, workdir)
    if smtp_port is not None:
        alerts |= {"smtp_host": "127.0.0.1", "smtp_port": smtp_port}
    alerts |= {
        "sender": "banwatch@example.org",
        "recipients": ["analysts@example.org"],
        "recency_days": 14,
    }
    if min_confidence is not None:
        alerts["min_confidence"] = min_confidence
    config: dict[str, Any] = {
        "warehouse": {"path": "banwatch.duckdb"},
        "staging": {"dir": "staging"},
        "fetch": {"allowed_hosts": ["127.0.0.1"], "timeout": 10},
        "alerts": alerts,
    }
    if decider:
        config["detect"] = {"decider": decider}
    config["feeds"] = [{"name": o, "url": newsroom.feed_url(o)} for o in newsroom.outlets]
    return config


def write_config(
    workdir: Path,
    newsroom: SampleNewsroom,
    smtp_port: int | None = None,
    *,
    mail_dir: Path | None = None,
    decider: str = "",
    min_confidence: float | None = None,
) -> Path:
    """Write `workdir/banwatch.toml` for `newsroom` (see `demo_config`).

    `decider` sets `detect.decider` and `min_confidence` sets `alerts.min_confidence`: the
    spine's tests let the rules decide with their old 0.5 floor, so that they test the stages,
    not the model's reading of the sample.
    """
    config = demo_config(
        workdir,
        newsroom,
        smtp_port,
        mail_dir=mail_dir,
        decider=decider,
        min_confidence=min_confidence,
    )
    path = workdir / "banwatch.toml"
    header = f"# Written by `banwatch demo`: the sample newsroom served on {newsroom.base_url}.\n"
    path.write_text(header + tomli_w.dumps(config), encoding="utf-8")
    return path


def _prepare_workdir(workdir: Path) -> None:
    """Create WORKDIR and clear the last demo's warehouse and mail, or say in one line why not."""
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        for stale in STALE_FILES:
            (workdir / stale).unlink(missing_ok=True)  # the demo starts from an empty warehouse
        for eml in (workdir / MAIL_DIR).glob("*.eml"):
            eml.unlink()  # ... and an empty mailbox, so the files are this pass's emails
        with tempfile.TemporaryFile(dir=workdir):  # writable? (the warehouse and mail go here)
            pass
    except OSError as exc:
        raise BanwatchError(
            f"{workdir}: cannot use it as the demo directory ({exc.strerror or exc}); pass "
            "--dir DIR with a directory you can create and write"
        ) from exc


@dataclass(frozen=True)
class Rows:
    """A query's result: column names and rows."""

    columns: list[str]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True)
class DemoResult:
    """What one demo pass found and where it left it."""

    summary: PassSummary
    events: Rows
    candidates: Rows  # below alerts.min_confidence: stored for review, not emailed
    min_confidence: float
    config: Path
    warehouse: Path
    snapshot: Path  # the read-only copy analysts' commands open
    mail_dir: Path
    emails: int  # .eml files written by the pass


def _rows(cursor: Any) -> Rows:
    return Rows([d[0] for d in cursor.description], cursor.fetchall())


class Demo:
    """The sample newsroom served and the demo's config written (`with Demo(dir) as demo:`);
    `run()` makes one pass. The newsroom stays up until the block ends (`--keep-serving`)."""

    def __init__(self, workdir: str | Path):
        self.workdir = Path(workdir)
        self.mail_dir = self.workdir / MAIL_DIR
        self.items: list[NewsItem] = []
        self.newsroom = SampleNewsroom()
        self.config = self.workdir / "banwatch.toml"

    def __enter__(self) -> Demo:
        _prepare_workdir(self.workdir)
        self.items = load_sample(max_phase=1)
        self.newsroom = SampleNewsroom(self.items).start()
        self.config = write_config(self.workdir, self.newsroom, mail_dir=self.mail_dir)
        return self

    def __exit__(self, *exc: object) -> None:
        self.newsroom.stop()

    def run(self, progress: Callable[[str, dict[str, Any]], None] | None = None) -> DemoResult:
        """One pass over the sample; the events and candidates as the snapshot has them."""
        from banwatch.pipeline import run_pass
        from banwatch.warehouse.store import open_reader, query_events

        settings: Settings = load_settings(self.config)
        summary = run_pass(settings, progress=progress)
        with open_reader(settings.warehouse.snapshot) as con:
            events = _rows(query_events(con, columns=EVENT_COLUMNS, order="announced"))
            candidates = _rows(
                query_events(
                    con,
                    candidates=True,
                    columns=CANDIDATE_COLUMNS,
                    clip={"evidence": 70},
                    order="confidence",
                )
            )
        return DemoResult(
            summary=summary,
            events=events,
            candidates=candidates,
            min_confidence=settings.alerts.min_confidence,
            config=self.config,
            warehouse=Path(settings.warehouse.path),
            snapshot=Path(settings.warehouse.snapshot),
            mail_dir=self.mail_dir,
            emails=sum(1 for _ in self.mail_dir.glob("*.eml")),
        )

    @staticmethod
    def serve_until_interrupted() -> None:
        """Block until Ctrl-C (the newsroom keeps serving, e.g. for `make airflow`)."""
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


def run_demo(
    workdir: str | Path, *, progress: Callable[[str, dict[str, Any]], None] | None = None
) -> DemoResult:
    """Serve the sample, run one pass over it, stop serving; what it found."""
    with Demo(workdir) as demo:
        return demo.run(progress)
