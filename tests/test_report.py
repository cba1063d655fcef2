"""`banwatch report`: a self-contained HTML page over the snapshot, drawn by a real browser.

A real pass over the bundled sample (loopback newsroom and SMTP sink) fills the warehouse; the
real CLI writes the report; headless Chromium (Debian's `chromium`) renders it and the test
reads the DOM the charts drew. Small warehouses seeded through the event resolver cover
hostile page text, an empty warehouse and the digest's attachment.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
import tomli_w
from banwatch.enrich.novelty import resolve_events
from banwatch.warehouse import report_queries, store
from click.testing import CliRunner
from markupsafe import escape

from banwatch import pipeline
from banwatch.cli import cli
from banwatch.config import Settings, settings_from_dict
from banwatch.demo import write_config
from banwatch.sample import load_sample
from tests.support.factories import make_detection
from tests.support.mailsink import MailSink
from tests.support.newsroom import Newsroom

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
CHARTS = ("chart-months", "chart-apps", "chart-countries")
HOSTILE = 'Officials said <script>alert("x")</script> and <img src=x onerror=alert(1)> today.'


class Resources(HTMLParser):
    """Every URL the page would load by itself (script/img/iframe src, stylesheet href)."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "embed", "source", "video", "audio") and a.get("src"):
            self.loaded.append(a["src"] or "")
        elif tag == "script":
            self.inline_scripts += 1
        if tag == "link" and a.get("href"):
            self.loaded.append(a["href"] or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")


def resources(page: str) -> Resources:
    parser = Resources()
    parser.feed(page)
    return parser


def run_report(config: Path, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["report", "--config", str(config), "--out", str(out), *extra])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def sample_pass(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `banwatch run` over the phase-1 sample; returns its config file."""
    workdir = tmp_path_factory.mktemp("report")
    with Newsroom(load_sample(max_phase=1, now=NOW)) as newsroom, MailSink() as sink:
        config = write_config(workdir, newsroom, sink.port)
        result = CliRunner().invoke(cli, ["run", "--config", str(config), "--quiet"])
        assert result.exit_code == 0, result.output + repr(result.exception)
    return config


@pytest.fixture(scope="module")
def sample_report(sample_pass: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("out") / "report.html"
    run_report(sample_pass, out)
    return out


def snapshot_rows(config: Path, sql: str) -> list[tuple]:
    from banwatch.config import load_settings

    with duckdb.connect(str(load_settings(config).warehouse.snapshot), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_the_report_needs_no_network_and_inlines_plotly_once(sample_report: Path) -> None:
    page = sample_report.read_text(encoding="utf-8")
    found = resources(page)
    assert found.loaded == [], found.loaded  # no src= or stylesheet: everything is inline
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page)
    assert page.count("plotly.js v") == 1  # plotly.js's banner: the library once, not per chart
    for chart in CHARTS:
        assert f'id="{chart}"' in page


def test_the_report_lists_the_events_candidates_and_feeds_of_the_pass(
    sample_pass: Path, sample_report: Path
) -> None:
    page = sample_report.read_text(encoding="utf-8")
    events = snapshot_rows(sample_pass, "SELECT app, evidence FROM ban_events WHERE NOT historical")
    assert events, "the sample pass found no events"
    for app, evidence in events:
        assert escape(evidence) in page and f"<td>{app}</td>" in page, evidence
    newest = page.split('id="newest"', 1)[1].split('id="candidates"', 1)[0]
    assert newest.count('<tr class="event">') == len(events)
    candidates = snapshot_rows(
        sample_pass, "SELECT event_id FROM ban_event_candidates WHERE NOT historical"
    )
    section = page.split('id="candidates"', 1)[1].split('id="feeds"', 1)[0]
    assert section.count('<tr class="candidate">') == len(candidates)
    for (event_id,) in candidates:
        assert event_id in section
    outlets = {o for (o,) in snapshot_rows(sample_pass, "SELECT DISTINCT site_name FROM articles")}
    sources = {html.unescape(m) for m in re.findall(r'<a href="http[^"]+">([^<]+)</a>', newest)}
    assert sources and sources <= outlets | {"127.0.0.1"}
    feeds = snapshot_rows(sample_pass, "SELECT name FROM feeds")
    feed_section = page.split('id="feeds"', 1)[1]
    assert feed_section.count('<tr class="feed') == len(feeds)
    for (name,) in feeds:
        assert f"<td>{name}</td>" in feed_section


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(
            "chromium is not installed, so the report's charts were NOT checked in a browser: "
            "apt-get install -y chromium (.ci/run does this)"
        )
    return found


def test_headless_chromium_draws_every_chart(sample_report: Path, tmp_path: Path) -> None:
    browser = chromium()
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=15000",
            "--dump-dom",
            sample_report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    starts = [dom.index(f'id="{chart}"') for chart in CHARTS]
    for chart, start, end in zip(CHARTS, starts, [*starts[1:], len(dom)], strict=True):
        drawn = dom[start:end]
        assert '<svg class="main-svg"' in drawn, f"{chart} was not drawn"
        assert re.search(r'<g class="trace bars"', drawn), f"{chart} has no bars"
        assert re.search(r'<path[^>]+d="M[^"]+"', drawn.split('class="trace bars"', 1)[1]), chart


def seeded_settings(tmp_path: Path, smtp_port: int = 25, **alerts: object) -> Settings:
    return settings_from_dict(
        {
            "warehouse": {"path": str(tmp_path / "bw.duckdb")},
            "alerts": {"smtp_host": "127.0.0.1", "smtp_port": smtp_port, **alerts},
        }
    )


def seed(settings: Settings, day: dt.date, seen: dt.datetime) -> None:
    """A news event with hostile evidence and a javascript: URL, and one candidate."""
    detections = [
        make_detection("d1", app="Signal", announced_on=day, evidence=HOSTILE, confidence=0.95),
        make_detection(
            "d2",
            app="Zoom",
            country="CL",
            jurisdiction="Chile",
            announced_on=day,
            evidence="Staff were told to uninstall Zoom from official laptops by Friday.",
            confidence=0.6,
        ),
    ]
    resolution = resolve_events(
        detections,
        {},
        seen_at={"d1": seen, "d2": seen},
        recency_days=14,
        urls={"d1": "javascript:alert(2)", "d2": "https://paper.example/zoom"},
        outlets={"d1": "Paper <b>One</b>", "d2": "Paper Two"},
        min_confidence=0.88,
    )
    with store.connect(settings.warehouse.path) as con:
        store.apply_resolution(con, resolution)
        store.publish_snapshot(con, settings.warehouse.snapshot)


def write_toml(settings: Settings, tmp_path: Path) -> Path:
    path = tmp_path / "bw.toml"
    config = {"warehouse": {"path": str(settings.warehouse.path)}}
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path


def test_page_text_is_escaped_and_only_web_urls_are_links(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path)
    seed(settings, NOW.date(), NOW)
    page = run_report(write_toml(settings, tmp_path), tmp_path / "r.html")
    assert escape(HOSTILE) in page
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert "Paper <b>One</b>" not in page
    found = resources(page)
    assert found.loaded == []
    assert "https://paper.example/zoom" in found.links
    assert not [link for link in found.links if not link.startswith(("http://", "https://"))]
    candidates = page.split('id="candidates"', 1)[1]
    assert "uninstall Zoom" in candidates and "Chile" in candidates


def test_an_empty_warehouse_gives_a_report_that_says_no_events_yet(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path)
    with store.connect(settings.warehouse.path) as con:
        store.publish_snapshot(con, settings.warehouse.snapshot)
    page = run_report(write_toml(settings, tmp_path), tmp_path / "empty.html")
    assert "No events yet" in page
    assert "plotly.js v" not in page and 'class="plotly-graph-div"' not in page


def test_an_unwritable_out_is_one_line(tmp_path: Path) -> None:
    settings = seeded_settings(tmp_path)
    seed(settings, NOW.date(), NOW)
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    out = tmp_path / "a-file" / "report.html"
    result = CliRunner().invoke(
        cli, ["report", "--config", str(write_toml(settings, tmp_path)), "--out", str(out)]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "cannot write the report" in lines[0], result.output
    assert "Traceback" not in result.output


def test_feed_health_uses_the_feed_health_view_when_it_exists() -> None:
    with duckdb.connect() as con:
        con.execute(
            "CREATE TABLE feeds (name VARCHAR, url VARCHAR, last_outcome VARCHAR, "
            "failure_count INTEGER)"
        )
        con.execute(
            "INSERT INTO feeds VALUES ('a', 'https://a.example/f', 'ok', 0), "
            "('b', 'https://b.example/f', 'hard', 3)"
        )
        rows = report_queries.feed_health(con)
        assert [list(r) for r in rows] == [["name", "last_outcome", "failure_count"]] * 2
        assert [r["name"] for r in rows] == ["b", "a"]  # failing first
        con.execute(
            "CREATE VIEW feed_health AS SELECT *, CASE WHEN failure_count > 0 THEN 'failing' "
            "ELSE 'ok' END AS health FROM feeds"
        )
        rows = report_queries.feed_health(con)
        assert list(rows[0]) == ["name", "last_outcome", "failure_count", "health"]
        assert rows[0]["health"] == "failing"


DAY = dt.date(2026, 5, 4)
SEEN = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize("attach", [True, False])
def test_the_digest_attaches_the_report_when_asked(tmp_path: Path, attach: bool) -> None:
    with MailSink() as sink:
        settings = seeded_settings(
            tmp_path, sink.port, digest_recipients=["desk@example.org"], digest_report=attach
        )
        seed(settings, DAY, SEEN)
        result = pipeline.daily_digest(settings, DAY)
        assert result["sent"] == 1
    (message,) = sink.messages
    attachments = list(message.iter_attachments())
    body = message.get_body(("plain",))
    assert body is not None and "Signal" in body.get_content()
    if not attach:
        assert attachments == []
        return
    (report,) = attachments
    assert report.get_content_type() == "text/html"
    assert report.get_filename() == "banwatch-report-2026-05-04.html"
    page = report.get_content()
    assert escape(HOSTILE) in page and 'id="chart-months"' in page
