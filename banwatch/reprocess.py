"""`banwatch reprocess`: run stored articles through the current extraction and detection again,
rebuild the events they touch, and report what changed, without emailing anything.

The raw HTML of every fetched page is kept (`articles.raw_html_gz`) for exactly this: after a
detector or extractor change, the warehouse can be brought up to date and the difference seen.

1. Every article fetched since `--since` (all by default) is extracted again from its raw HTML
   (`ingest.extract.extract_article`) and detected again (`detect_ban_events` with the
   configured catalogue, thresholds and decider, as `pipeline.detect_events` does). Articles
   with no usable raw HTML (a failed fetch, a feed summary only) are detected from their
   stored text. The feed summary itself is not stored, so when a page no longer extracts the
   stored text stands in for it.
2. Every *holder* (country, subdivision, app) that the old or the new detections name is
   rebuilt: its events, sources and mentions are deleted and `resolve_events` runs again over
   all its detections, pass by pass in the order the passes ran, each article at its original
   first-seen time (`warehouse.reprocess.first_sight`), so recency and historical status come
   out as they did. Other holders are not touched; stories and embeddings are kept.
3. The events before and after are compared: added, removed, and changed (which fields).
4. The outbox never gains a row (`warehouse.reprocess.settle_outbox`); sent alerts are untouched.

All of it is one transaction: a crash leaves the warehouse as it was, and `dry_run` rolls it
back after computing the report.
"""

from __future__ import annotations

import datetime as dt
import gzip
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banwatch.config import FetchSettings, Settings
from banwatch.errors import BanwatchError
from banwatch.records import Article, Detection, Outcome, ParsedEntry

logger = logging.getLogger(__name__)

Progress = Callable[[str, dict[str, Any]], None]

CHUNK = 200  # articles read, extracted and detected at a time (raw HTML stays out of memory)
PROGRESS_EVERY = CHUNK
REEXTRACTED_OUTCOMES = (Outcome.OK.value, Outcome.SOFT.value)


@dataclass(frozen=True)
class Change:
    """One event that reprocessing added, removed or changed."""

    change: str  # added | removed | changed
    event_id: str
    event: dict[str, Any]  # the event's fields after (before, for a removed one)
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # changed: old, new


@dataclass
class Report:
    articles: int = 0
    reextracted: int = 0
    text_changed: int = 0
    detections_before: int = 0
    detections_after: int = 0
    holders: int = 0
    changes: list[Change] = field(default_factory=list)
    dry_run: bool = False

    def count(self, kind: str) -> int:
        return sum(c.change == kind for c in self.changes)

    def line(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        return (
            f"reprocessed {self.articles} articles ({self.reextracted} re-extracted from raw "
            f"HTML, {self.text_changed} with new text), detections {self.detections_before} -> "
            f"{self.detections_after}, {self.holders} (country, app) holders rebuilt; events "
            f"{verb}: {self.count('added')} added, {self.count('removed')} removed, "
            f"{self.count('changed')} changed"
            + (" (dry run: nothing written)" if self.dry_run else "")
        )


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


def reextract(row: dict[str, Any], fetch: FetchSettings) -> Article:
    """The article as the current extractor, with today's `fetch` settings, reads its stored
    raw HTML (or the stored one)."""
    from banwatch.ingest.extract import extract_article
    from banwatch.ingest.fetch import FetchedPage, decode_html

    stored = Article(
        article_id=row["article_id"],
        url=row["url"],
        feed_name=row["feed_name"],
        title=row["title"] or "",
        text=row["text"] or "",
        published_at=row["published_at"],
        language=row["language"],
        site_name=row["site_name"],
        extraction=row["extraction"] or "feed_summary",
        outcome=Outcome(row["outcome"] or "ok"),
        reason=row["reason"] or "ok",
        error=row["error"],
        fetched_at=row["fetched_at"],
    )
    raw = row["raw_html_gz"]
    if raw is None or row["outcome"] not in REEXTRACTED_OUTCOMES:
        return stored
    try:
        body = gzip.decompress(raw)
        html = decode_html(body)
    except (OSError, EOFError, ValueError, LookupError) as exc:
        logger.warning("article %s: stored raw HTML unreadable (%s)", stored.article_id, exc)
        return stored
    entry = ParsedEntry(
        feed_name=stored.feed_name,
        url=stored.url,
        link=stored.url,
        title=stored.title,
        summary=stored.text,  # the feed summary is not stored: the stored text stands in
        published_at=stored.published_at,
    )
    page = FetchedPage(entry=entry, raw=body, html=html, fetched_at=stored.fetched_at)
    article = extract_article(page, fetch)
    article.raw_html_gz = raw
    return article


def detector(settings: Settings) -> Callable[[Sequence[Article]], list[Detection]]:
    """Detection exactly as `pipeline.detect_events` configures it, loaded once."""
    from banwatch.enrich.apps import load_catalogue
    from banwatch.enrich.detect import detect_ban_events, load_model

    catalogue = load_catalogue(settings.detect.apps_file or None)
    model = load_model(settings.detect.model_path) if settings.detect.decider == "model" else None
    countries = {f.name: f.country for f in settings.feeds if f.country}

    def detect(articles: Sequence[Article]) -> list[Detection]:
        detections, _ = detect_ban_events(
            articles,
            catalogue=catalogue,
            min_confidence=settings.detect.min_confidence,
            join_confidence=settings.detect.weak_floor,
            feed_countries=countries,
            model=model,
            decider=settings.detect.decider,
        )
        return detections

    return detect


def _changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[Change]:
    from banwatch.warehouse.reprocess import EVENT_FIELDS

    out = []
    for eid in sorted(set(before) | set(after)):
        old, new = before.get(eid), after.get(eid)
        if old is None:
            out.append(Change("added", eid, new))  # type: ignore[arg-type]
        elif new is None:
            out.append(Change("removed", eid, old))
        else:
            diff = {f: (old[f], new[f]) for f in EVENT_FIELDS if old[f] != new[f]}
            if diff:
                out.append(Change("changed", eid, new, diff))
    order = {"added": 0, "removed": 1, "changed": 2}
    out.sort(key=lambda c: (order[c.change], str(c.event.get("announced_on")), c.event_id))
    return out


def reprocess(
    settings: Settings,
    *,
    since: dt.datetime | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Re-extract, re-detect and re-resolve the articles fetched since `since`; see the module."""
    from banwatch.warehouse import store

    if not Path(settings.warehouse.path).exists():
        raise BanwatchError(
            f"{settings.warehouse.path}: no warehouse yet, nothing to reprocess; run "
            "`banwatch run` first (or check warehouse.path)"
        )
    report_progress = progress or (lambda stage, counts: None)
    report = Report(dry_run=dry_run)
    detect = detector(settings)
    with store.connect(settings.warehouse.path) as con:
        try:
            with store.transaction(con):
                _rebuild(
                    settings, con, since, detect=detect, report=report, progress=report_progress
                )
                if dry_run:
                    raise _DryRun
        except _DryRun:
            logger.info("dry run: rolled back")
        else:
            store.publish_snapshot(con, settings.warehouse.snapshot)
    logger.info("%s", report.line())
    return report


def _rebuild(
    settings: Settings,
    con: Any,
    since: dt.datetime | None,
    *,
    detect: Callable[[Sequence[Article]], list[Detection]],
    report: Report,
    progress: Progress,
) -> None:
    from banwatch.enrich.novelty import holder_of
    from banwatch.faults import checkpoint
    from banwatch.warehouse import reprocess as sql

    ids = sql.article_ids_since(con, since)
    report.articles = len(ids)
    sight = sql.first_sight(con)  # before anything changes: it reads the events as they were
    holders = sql.detection_holders(con, ids)
    report.detections_before = sql.count_detections(con, ids)
    fresh = _redetect(con, ids, detect, report, progress, fetch=settings.fetch)
    report.detections_after = len(fresh)
    holders |= {holder_of(d) for d in fresh}
    report.holders = len(holders)
    sql.delete_detections(con, ids)
    reprocessed = set(ids)
    kept = [d for d in sql.holder_detections(con, holders) if d.article_id not in reprocessed]
    before = sql.holder_events(con, holders)
    had_alert = sql.alert_ids(con)
    sql.clear_holders(con, holders)
    checkpoint("reprocess:cleared")
    _replay(settings, con, kept, fresh, sight)
    after = sql.holder_events(con, holders)
    settled = sql.settle_outbox(con, had_alert, before, after)
    logger.info("reprocess outbox: %s", settled)
    report.changes = _changes(before, after)
    checkpoint("reprocess:events")


def _redetect(
    con: Any,
    ids: Sequence[str],
    detect: Callable[[Sequence[Article]], list[Detection]],
    report: Report,
    progress: Progress,
    *,
    fetch: FetchSettings,
) -> list[Detection]:
    """Extract and detect the stored articles `ids` again, a chunk at a time; store the text."""
    from banwatch.warehouse import reprocess as sql

    fresh: list[Detection] = []
    started = time.perf_counter()
    for done, chunk in enumerate(sql.chunks(ids, CHUNK), 1):
        rows = sql.read_articles(con, chunk)
        articles = [reextract(r, fetch) for r in rows]
        report.reextracted += sum(a.raw_html_gz is not None for a in articles)
        report.text_changed += sum(
            (a.title, a.text) != (r["title"] or "", r["text"] or "")
            for a, r in zip(articles, rows, strict=True)
        )
        sql.update_articles(con, articles)
        fresh.extend(detect(articles))
        count = min(done * CHUNK, len(ids))
        if count % PROGRESS_EVERY == 0 or count == len(ids):
            logger.info(
                "reprocess: %d/%d articles (%.1f s)", count, len(ids), time.perf_counter() - started
            )
            progress("articles", {"done": count, "of": len(ids)})
    return fresh


def _replay(
    settings: Settings,
    con: Any,
    kept: Sequence[Detection],
    fresh: Sequence[Detection],
    sight: dict[str, tuple[tuple[Any, ...], dt.datetime]],
) -> None:
    """Resolve the holders' detections again, pass by pass in the order the passes ran: each
    batch sees the states the earlier ones built, each article at its first-seen time."""
    from banwatch.enrich.novelty import Sourcing, holder_of, inherit_scopes, resolve_events
    from banwatch.warehouse import reprocess as sql
    from banwatch.warehouse import store

    batches: dict[tuple[Any, ...], list[tuple[Detection, bool]]] = defaultdict(list)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for d, is_fresh in [*((d, False) for d in kept), *((d, True) for d in fresh)]:
        key, _ = sight.get(d.article_id, ((epoch, ""), epoch))
        batches[key].append((d, is_fresh))
    readers = {d.article_id for d in [*kept, *fresh]}
    # story mates (`events.story_sources`): as in a pass, each batch's own articles' stories
    mates = sql.story_mates(con, readers) if settings.events.story_sources else {}
    urls, outlets = sql.article_labels(con, readers | set(mates))
    for a in mates.keys() & sight.keys():  # a pass whose articles were all story mates
        batches.setdefault(sight[a][0], [])
    for key in sorted(batches):
        batch = batches[key]
        dets = [d for d, _ in batch]
        known = store.holder_states(con, {holder_of(d) for d in dets})
        inherited = inherit_scopes(dets, known, settings.events)
        # stored detections were inherited when first loaded; only fresh ones are inherited now
        dets = [
            new if is_fresh else old for (old, is_fresh), new in zip(batch, inherited, strict=True)
        ]
        sql.load_new_detections(
            con, [d for d, (_, is_fresh) in zip(dets, batch, strict=True) if is_fresh]
        )
        situations = {d.situation for d in dets}
        stories = {a: s for a, s in mates.items() if a in sight and sight[a][0] == key}
        if stories:  # and, as a pass reads them, the stored sources in those stories
            stored, mated = store.story_sources(con, stories.values())
            stories, situations = stored | stories, situations | mated
        ids = {d.article_id for d in dets} | set(stories)
        resolution = resolve_events(
            dets,
            store.situation_history(con, situations),
            seen_at={a: sight[a][1] for a in ids if a in sight},
            recency_days=settings.alerts.recency_days,
            urls=urls,
            outlets=outlets,
            min_confidence=settings.alerts.min_confidence,
            policy=Sourcing(
                settings.events, start_confidence=settings.detect.min_confidence, stories=stories
            ),
        )
        store.apply_resolution(con, resolution)
