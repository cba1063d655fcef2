"""False alarms on real web pages: what banwatch WOULD alert if these pages arrived today.

    python -m bench.realpages /path/to/fundus/tests/resources/parser/test_data [--copies N]
        [--model PATH] [--min-confidence X] [--page-dates] [--json FILE] [--keep DIR]

The pages are the Fundus parser test pages (`<country>/<Publisher>_<date>.html.gz`, with the
gold fields of each page in `<country>/<Publisher>.json`, one entry per parser version, in the
pages' date order, and the original URL in `<country>/meta.info`): real articles of real
outlets in many languages, none of which reports a government app ban. So EVERY event the
pipeline finds in them is a false alarm; the listing shows each one with its page, fields and
evidence sentence, so a human can see the rare page that does report a real ban.

Every page is served verbatim (as fetched, charset from its own <meta>) on 127.0.0.1 behind
one RSS feed per publisher (item title and description from the gold JSON), `--copies N`
times under distinct URLs, and one real pass runs: `banwatch run --config` in a child process,
alerts on, mail to a loopback aiosmtpd sink.

Dates: the feed gives every page today's date as its published time (no `--replay`), so the
recency window never hides a false alarm: an event the detector finds is news unless the page
itself dates it. `--page-dates` instead publishes each page at its gold `publishing_date` and
runs with `--replay` (as if banwatch had been running then).

The pages are never committed to this repository (CI has none); pass their folder.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import hashlib
import json
import logging
import re
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bench.harness import (
    FeedEntry,
    StoredEvent,
    read_events,
    run_banwatch,
    stored_articles,
    write_config,
)

logger = logging.getLogger(__name__)

FOLDER_COUNTRIES = {"uk": "GB", "ind": "IN", "isl": "IS"}  # Fundus folders that are not ISO codes
PAGE_NAME = re.compile(r"(?P<publisher>.+)_(?P<date>\d{4}_\d{2}_\d{2})(?:_\d+)?\.html\.gz")
SUMMARY_CHARS = 300


@dataclass(frozen=True)
class RealPage:
    """One test page and its gold fields."""

    country: str  # the Fundus folder, e.g. "uk"
    publisher: str
    path: Path  # the .html.gz file
    title: str
    published: dt.datetime | None  # gold publishing_date
    summary: str  # the feed description: gold summary, else the first paragraph
    original_url: str


@dataclass
class RealPagesResult:
    """What one pass over the pages produced."""

    root: str
    fingerprint: str
    pages: int  # distinct test pages
    items: int  # feed items served (pages x copies)
    pages_fetched: int
    stored: dict[str, int]  # articles stored, by outcome / extraction
    events: list[StoredEvent]
    emails: int
    seconds: float
    detect_ms_per_article: float | None
    page_of: dict[str, str] = field(default_factory=dict)  # served path -> page label

    def figures(self) -> dict[str, float]:
        """The figures the quality gate compares (rates per 1,000 served items)."""
        per = 1000 / max(self.items, 1)
        emailed = sum(1 for e in self.events if e.emails)
        return {
            "false_alarm_events_per_1000_pages": round(len(self.events) * per, 2),
            "false_alarm_emails_per_1000_pages": round(self.emails * per, 2),
            "emailed_events_per_1000_pages": round(emailed * per, 2),
        }

    def lines(self) -> list[str]:
        status = Counter(e.status for e in self.events)
        in_view = status["news"] + status["historical"]
        f = self.figures()
        stored = ", ".join(f"{k} {v}" for k, v in sorted(self.stored.items()))
        cpu = (
            f"{self.detect_ms_per_article:.2f} core-ms per article (detect_ban_events over the "
            "stored texts, in the bench process, warm)"
            if self.detect_ms_per_article is not None
            else "n/a"
        )
        out = [
            f"real pages: {self.pages} pages x copies = {self.items} feed items served from "
            f"{self.root}",
            f"pages fetched: {self.pages_fetched}; articles stored: {stored}",
            f"events detected: ban_events {in_view} (news {status['news']}, historical "
            f"{status['historical']}), candidates {status['candidate']}",
            f"emails sent: {self.emails}",
            "none of these pages reports a government app ban: every event is a false alarm",
            f"false alarms per 1,000 pages: events {f['false_alarm_events_per_1000_pages']:.2f}, "
            f"emails {f['false_alarm_emails_per_1000_pages']:.2f}",
            f"detection CPU: {cpu}",
            f"pass wall time: {self.seconds:.1f} s",
            f"-- false alarms ({len(self.events)})",
        ]
        for e in sorted(self.events, key=lambda e: (-e.emails, e.status, e.event_id)):
            pages = sorted({self.page_of.get(urlsplit(u).path, u) for u in e.source_urls})
            out.append(
                f"  FA {e.status} emails {e.emails} conf {e.confidence:.2f} "
                f"{e.country}/{e.subdivision or '-'} {e.app} {e.scope} {e.action} "
                f"{e.announced_on} | pages {'; '.join(pages[:3])}"
            )
            out.append(f"     evidence: {e.evidence[:300]}")
        return out


# --- the pages ------------------------------------------------------------------------------


def _version_key(name: str) -> tuple[int, ...]:
    """Parser versions in order: V1 < V1_1 < V2 (the pages' date order)."""
    return tuple(int(n) for n in re.findall(r"\d+", name)) or (0,)


def _summary(gold: dict) -> str:
    body = gold.get("body") or {}
    parts = list(body.get("summary") or [])
    if not parts:
        for section in body.get("sections") or []:
            parts += section.get("paragraphs") or []
            if parts:
                break
    text = " ".join(" ".join(parts).split())
    return text[:SUMMARY_CHARS]


def _date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def load_pages(root: Path) -> list[RealPage]:
    """Every `<country>/<Publisher>_<date>.html.gz` with its gold fields."""
    pages = []
    for gold_file in sorted(root.glob("*/*.json")):
        folder, publisher = gold_file.parent, gold_file.stem
        files = sorted(
            p
            for p in folder.glob("*.html.gz")
            if (m := PAGE_NAME.fullmatch(p.name)) and m["publisher"] == publisher
        )
        gold = json.loads(gold_file.read_text(encoding="utf-8"))
        versions = [gold[v] for v in sorted(gold, key=_version_key)]
        if len(versions) != len(files):
            logger.warning("%s: %d gold entries for %d pages", gold_file, len(versions), len(files))
        meta_file = folder / "meta.info"
        meta = json.loads(meta_file.read_text(encoding="utf-8")) if meta_file.is_file() else {}
        for path, fields in zip(files, versions, strict=False):
            pages.append(
                RealPage(
                    country=folder.name,
                    publisher=publisher,
                    path=path,
                    title=" ".join((fields.get("title") or path.stem).split()),
                    published=_date(fields.get("publishing_date")),
                    summary=_summary(fields),
                    original_url=(meta.get(path.name) or {}).get("url", ""),
                )
            )
    return pages


def fingerprint(pages: list[RealPage], root: Path) -> str:
    """A hash of the page files' names and sizes: a baseline is for one set of pages."""
    digest = hashlib.sha256()
    for p in sorted(pages, key=lambda p: p.path):
        digest.update(f"{p.path.relative_to(root)}:{p.path.stat().st_size}\n".encode())
    return digest.hexdigest()


def feed_country(folder: str) -> str | None:
    """The ISO code of a Fundus country folder (config `[[feeds]] country`), if it is one."""
    import pycountry

    code = FOLDER_COUNTRIES.get(folder, folder).upper()
    return code if len(code) == 2 and pycountry.countries.get(alpha_2=code) else None


def _slug(text: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "page"


# --- the pass -------------------------------------------------------------------------------


def _serve(newsroom, pages: list[RealPage], copies: int, page_dates: bool) -> dict[str, str]:
    """Publish every page `copies` times; returns served path -> a label naming the page."""
    from tests.support.newsroom import NewsItem

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    items, page_of = [], {}
    for i, page in enumerate(pages):
        outlet = _slug(f"{page.country}-{page.publisher}")
        raw = gzip.decompress(page.path.read_bytes())
        stem = _slug(page.path.name.removesuffix(".html.gz"))
        for k in range(copies):
            slug = stem if copies == 1 else f"{stem}-copy{k + 1}"
            published = page.published if page_dates and page.published else now
            items.append(
                NewsItem(
                    outlet,
                    slug,
                    page.title,
                    page.summary,
                    published - dt.timedelta(seconds=i),
                    html="",
                )
            )
            path = f"/{outlet}/{slug}.html"
            newsroom.put(path, raw, "text/html")  # raw routes win: the page as fetched
            page_of[path] = f"{page.country}/{page.path.name} ({page.original_url or 'no url'})"
    newsroom.add(items)
    return page_of


def _detect_cpu_ms(
    articles: list[dict], countries: dict[str, str | None], model_path: str = ""
) -> float | None:
    """Mean CPU ms per stored article of `detect_ban_events` (candidates, features and the
    model), one batch as the pass runs it, after a warm-up batch."""
    from banwatch.enrich.detect import detect_ban_events, load_model

    from banwatch.records import Article

    texts = [a for a in articles if a.get("text")]
    if not texts:
        return None
    batch = [
        Article(
            a["article_id"],
            a["article_id"],
            a["feed_name"],
            a["title"] or "",
            a["text"],
            a["published_at"],
            language=a["language"],
        )  # fmt: skip
        for a in texts
    ]
    feed_countries = {k: v for k, v in countries.items() if v}
    model = load_model(model_path)
    detect_ban_events(batch[:5], model=model, feed_countries=feed_countries)
    started = time.process_time()
    detect_ban_events(batch, model=model, feed_countries=feed_countries)
    return 1000 * (time.process_time() - started) / len(texts)


def run_realpages(
    root: str | Path,
    *,
    copies: int = 1,
    model_path: str = "",
    alerts_min_confidence: float | None = None,
    page_dates: bool = False,
    keep: str | Path | None = None,
) -> RealPagesResult:
    """Serve the pages, run one real pass, and collect what it stored and emailed."""
    from tests.support.mailsink import MailSink
    from tests.support.newsroom import Newsroom

    root = Path(root)
    pages = load_pages(root)
    if not pages:
        raise SystemExit(f"no <country>/<Publisher>_<date>.html.gz pages with gold JSON in {root}")
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink, Newsroom() as newsroom:
        workdir = Path(keep) if keep else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        page_of = _serve(newsroom, pages, copies, page_dates)
        countries = {o: feed_country(o.split("-", 1)[0]) for o in newsroom.outlets}
        feeds = [FeedEntry(o, newsroom.feed_url(o), countries[o]) for o in newsroom.outlets]
        config = write_config(
            workdir / "banwatch.toml",
            workdir,
            feeds,
            sink.port,
            model_path=model_path,
            alerts_min_confidence=alerts_min_confidence,
        )
        started = time.time()
        print(run_banwatch(config, replay=page_dates))
        seconds = time.time() - started
        fetched = {urlsplit(p).path for m, p in newsroom.requests if m == "GET"} & page_of.keys()
        events = read_events(workdir / "bw.duckdb", list(sink.messages))
        articles = stored_articles(workdir / "bw.duckdb")
        emails = len(sink.messages)
    stored = Counter(f"{a['outcome']}/{a['extraction']}" for a in articles)
    stored["total"] = len(articles)
    return RealPagesResult(
        root=str(root),
        fingerprint=fingerprint(pages, root),
        pages=len(pages),
        items=len(page_of),
        pages_fetched=len(fetched),
        stored=dict(stored),
        events=events,
        emails=emails,
        seconds=seconds,
        detect_ms_per_article=_detect_cpu_ms(articles, countries, model_path),
        page_of=page_of,
    )


def to_json(result: RealPagesResult) -> dict:
    """The result as JSON (events listed) for `--json` and the quality gate."""
    out = dataclasses.asdict(result)
    out["figures"] = result.figures()
    out.pop("page_of")
    return json.loads(json.dumps(out, default=str))


def main(argv: list[str] | None = None) -> RealPagesResult:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages_dir", help="the Fundus test_data folder (<country>/*.html.gz)")
    parser.add_argument("--copies", type=int, default=1, help="serve each page N times")
    parser.add_argument("--model", default="", help="detector model file ([detect] model_path)")
    parser.add_argument(
        "--min-confidence", type=float, default=None, help="[alerts] min_confidence"
    )
    parser.add_argument(
        "--page-dates",
        action="store_true",
        help="publish pages at their own dates and run with --replay (default: today)",
    )
    parser.add_argument("--json", default="", help="also write the result to this JSON file")
    parser.add_argument("--keep", default="", help="keep the config and warehouse in this folder")
    args = parser.parse_args(argv)
    result = run_realpages(
        args.pages_dir,
        copies=max(args.copies, 1),
        model_path=args.model,
        alerts_min_confidence=args.min_confidence,
        page_dates=args.page_dates,
        keep=args.keep or None,
    )
    print("\n".join(result.lines()))
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(result), indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
