"""One pass of banwatch, as steps that both `banwatch run` and the Airflow DAG compose.

Each step takes the settings plus paths and returns a small frozen dataclass of paths and counts
(`Started`, `Polled`, ...); the large data (feed results, articles, embeddings, detections)
travel between steps as files in a per-run staging directory. An Airflow task returns its
result's `to_xcom()` (a plain dict: Airflow deserialises only allowed classes) and the next task
rebuilds it with `from_xcom`, so XCom carries only paths and counts. Steps that open the DuckDB
file are marked `DB`: the DAG runs them in a one-slot pool, because DuckDB has a single writer
process. No step reads the clock: `now` is passed in (the DAG's data interval end, or the CLI's
start time), so re-running an interval gives the same rows. The SQL is all in `warehouse/`.

Heavy libraries (torch, trafilatura, duckdb) are imported inside the steps, so importing this
module at DAG parse time stays cheap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from banwatch.config import Settings
from banwatch.errors import ConfigError
from banwatch.records import (
    Article,
    Detection,
    FeedResult,
    ParsedEntry,
    PassSummary,
    StoryAssignment,
)
from banwatch.staging import read_matrix, read_records, write_matrix, write_records

logger = logging.getLogger(__name__)

Progress = Callable[[str, dict[str, Any]], None]

STATE_FILE = "state.jsonl"


# ---------------------------------------------------------------- step results


@dataclass(frozen=True)
class StepResult:
    """A step's paths and counts; crosses an Airflow XCom as the plain dict `to_xcom` makes."""

    def to_xcom(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild from `to_xcom`'s dict (keys it does not know are ignored)."""
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclass(frozen=True)
class Started(StepResult):
    """`start_run`: the run's staging directory and the feed batches to poll."""

    run_dir: str
    batches: list[list[str]]


@dataclass(frozen=True)
class Polled(StepResult):
    """`poll_feeds` of one batch: its staging file, feeds polled and failed, new entries."""

    path: str
    feeds: int = 0
    failed: int = 0
    entries: int = 0


@dataclass(frozen=True)
class Fetched(StepResult):
    """`fetch_and_extract` of one batch: its staging file, articles and failed ones."""

    path: str
    articles: int = 0
    failed: int = 0


@dataclass(frozen=True)
class Grouped(StepResult):
    """`embed_and_group`: the stories staging file and the stories it starts."""

    path: str
    new_stories: int = 0


@dataclass(frozen=True)
class Detected(StepResult):
    """`detect_events`: the detections staging file and how many there are."""

    path: str
    detections: int = 0


@dataclass(frozen=True)
class Staged(StepResult):
    """What `load` reads: every batch's poll and article files, the stories and detections."""

    poll_paths: list[str] = field(default_factory=list)
    article_paths: list[str] = field(default_factory=list)
    stories_path: str = ""
    detections_path: str = ""

    @classmethod
    def of(
        cls,
        polled: Sequence[Polled],
        fetched: Sequence[Fetched],
        grouped: Grouped,
        detected: Detected,
    ) -> Staged:
        return cls([p.path for p in polled], [f.path for f in fetched], grouped.path, detected.path)


@dataclass(frozen=True)
class Loaded(StepResult):
    """`load`: what it added, and how many events it queued for an email."""

    new_articles: int = 0
    new_stories: int = 0
    new_events: int = 0
    alertable_events: int = 0
    candidates: int = 0


def summarise(
    polled: Sequence[Polled],
    fetched: Sequence[Fetched],
    loaded: Loaded,
    sent: Mapping[str, int] | None = None,
) -> PassSummary:
    """The pass's counts from its steps' results (`sent`: `send_alerts`, None when not sent)."""
    sent = sent or {}
    return PassSummary(
        feeds_polled=sum(p.feeds for p in polled),
        feeds_failed=sum(p.failed for p in polled),
        new_articles=loaded.new_articles,
        articles_failed=sum(f.failed for f in fetched),
        new_stories=loaded.new_stories,
        new_events=loaded.new_events,
        emails_sent=sent.get("sent", 0),
        alerts_undelivered=sent.get("undelivered", 0),
        recipients_refused=sent.get("recipients_refused", 0),
    )


# ---------------------------------------------------------------- staging files


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:120]


def _dump(path: Path, records: Iterable[Any], meta: dict[str, Any] | None = None) -> str:
    """Stage `records` as JSON lines (banwatch.staging), whatever suffix the caller names.

    The write is atomic, and `checkpoint("staged:<step>")` follows it: each step's staging file
    is where a killed pass stops between steps (a test hook, see banwatch.faults).
    """
    from banwatch.faults import checkpoint

    written = write_records(path.with_suffix(".jsonl"), records, meta)
    checkpoint("staged:" + path.name.split("-")[0].split(".")[0])
    return written


def _load(path: str | Path) -> list[Any]:
    """The records of a staging file (without its header's metadata)."""
    return read_records(path)[1]


def _state(run_dir: str | Path) -> dict[str, Any]:
    """What `start_run` staged: run id, the run's `now`, known URLs and feed states."""
    meta, states = read_records(Path(run_dir) / STATE_FILE)
    return {
        "run_id": meta["run_id"],
        "now": dt.datetime.fromisoformat(meta["now"]) if meta.get("now") else None,
        "known_urls": set(meta.get("known_urls", ())),
        "states": {s.name: s for s in states},
    }


def _polled(path: str | Path) -> tuple[list[FeedResult], list[ParsedEntry]]:
    """A poll file holds the feed results (with all their entries), then the new entries."""
    records = _load(path)
    results = [r for r in records if isinstance(r, FeedResult)]
    return results, [r for r in records if isinstance(r, ParsedEntry)]


def _stories(path: str | Path) -> dict[str, Any]:
    """Story assignments, and the embedding matrix from its `.npy` sidecar (None if empty)."""
    meta, assignments = read_records(path)
    matrix = meta.get("matrix")
    return {
        "ids": list(meta.get("ids", [])),
        "model": meta.get("model", ""),
        "assignments": assignments,
        "matrix": read_matrix(Path(path).with_name(matrix)) if matrix else None,
        "signatures": meta.get("signatures"),
    }


def _batch_key(batch: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(batch).encode()).hexdigest()[:10]


def _articles_from(paths: Iterable[str]) -> list[Article]:
    """Articles of all fetch batches, once each (two feeds in two batches may share a URL)."""
    seen: dict[str, Article] = {}
    for path in paths:
        for article in _load(path):
            seen.setdefault(article.article_id, article)
    return list(seen.values())


def _connect(settings: Settings):
    from banwatch.warehouse import connect

    return connect(settings.warehouse.path, lock_timeout=settings.warehouse.lock_timeout)


# ---------------------------------------------------------------- steps


# A run left `running` by a process that was killed (kill -9, an OOM kill, a dagrun_timeout, a
# Ctrl-C between two steps) is stale. Which `running` rows are, must be told apart carefully:
# * The current run_id is never stale: all tasks of one Airflow run (and its retries) share it.
# * A single-process pass (`banwatch run`) records its pid and host: on the same host it is
#   stale once that process is gone (or when it names this very process, which runs another id).
# * An Airflow run records no pid (its tasks run in many short-lived processes). When another
#   Airflow run starts, it is stale: `start_run` is the first task of banwatch_pipeline, which
#   has max_active_runs=1, so the earlier run has ended (a dagrun_timeout fails it without
#   running record_failure). A CLI pass cannot know that, so for it only the age bound applies.
# * Any run whose process started longer than `schedule.stale_run_hours` ago (wall clock) is
#   stale: 6 h by default, three times the DAG's dagrun_timeout (2 h), and a pass takes minutes.


def _stale_reason(
    run: dict[str, Any], pid: int | None, host: str, after: dt.timedelta
) -> str | None:
    """Why the `running` row `run` (not the current run) is stale, or None if it may be live."""
    from banwatch.warehouse.store import process_alive

    if run["pid"] is not None and run["host"] == host:
        if run["pid"] == os.getpid() or not process_alive(run["pid"]):
            return f"interrupted: its process {run['pid']} on {host} is gone"
    if run["pid"] is None and pid is None:
        return "interrupted: a later Airflow run started (the DAG runs one at a time)"
    if run["age"] > after:
        return f"interrupted: still running after {after} (schedule.stale_run_hours)"
    return None


def _abort_stale_runs(settings: Settings, con: Any, run_id: str, pid: int | None) -> list[str]:
    """Mark stale `running` rows `aborted` with the reason, and remove their staging."""
    from banwatch.warehouse import store

    host = socket.gethostname()
    after = dt.timedelta(hours=settings.schedule.stale_run_hours)
    aborted = []
    for run in store.running_runs(con):
        reason = None if run["run_id"] == run_id else _stale_reason(run, pid, host, after)
        if reason is None:
            continue
        store.abort_run(con, run["run_id"], reason)
        shutil.rmtree(Path(settings.staging.dir) / _safe(run["run_id"]), ignore_errors=True)
        logger.warning("run %s marked aborted (%s); its staging removed", run["run_id"], reason)
        aborted.append(run["run_id"])
    return aborted


def _staging_error(settings: Settings, run_dir: Path, exc: OSError) -> ConfigError:
    """Which path, why, and the key to change: a setup problem, not a traceback."""
    return ConfigError(
        f"cannot write the staging directory {run_dir} ({exc.strerror or exc}); set "
        "staging.dir to a directory banwatch can create and write",
        path=settings.source,
        key="staging.dir",
    )


def start_run(
    settings: Settings, run_id: str, now: dt.datetime, *, pid: int | None = None
) -> Started:
    """DB: migrate, record the run, and stage what the network steps need from the warehouse.

    First it clears what interrupted passes left (`_abort_stale_runs`, and snapshot copies a
    killed publication left beside the snapshot). `pid` is the process that runs the WHOLE pass
    (`run_pass` gives its own); the DAG gives none, since its tasks run in many processes.
    """
    from banwatch.warehouse import store

    run_dir = Path(settings.staging.dir) / _safe(run_id)
    try:  # before the run is recorded: a bad staging.dir leaves no run behind
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _staging_error(settings, run_dir, exc) from exc
    with _connect(settings) as con:
        # Holding the writer connection: no other pass can be publishing a snapshot right now.
        store.remove_stale_snapshot_files(settings.warehouse.snapshot)
        _abort_stale_runs(settings, con, run_id, pid)
        store.start_run(con, run_id, now, pid=pid, host=socket.gethostname())
        states = store.feed_states(con)
        known = store.recent_urls(con, now - dt.timedelta(days=settings.fetch.known_url_days))
        meta = {"run_id": run_id, "now": now.isoformat(), "known_urls": sorted(known)}
        try:
            _dump(run_dir / STATE_FILE, states.values(), meta)
        except OSError as exc:  # e.g. a full disk: the run fails, not left `running`
            error = _staging_error(settings, run_dir, exc)
            store.fail_run(con, run_id, f"{type(error).__name__}: {error}")
            raise error from exc
    names = [feed.name for feed in settings.feeds]
    size = max(1, settings.schedule.feed_batch_size)
    batches = [names[i : i + size] for i in range(0, len(names), size)]
    logger.info(
        "run %s: %d feeds in %d batches, %d known urls",
        run_id,
        len(names),
        len(batches),
        len(known),
    )
    return Started(str(run_dir), batches)


def poll_feeds(settings: Settings, run_dir: str, batch: list[str]) -> Polled:
    """Network: conditional GET of one batch of feeds; stages results and their new entries."""
    from banwatch.ingest.feeds import fetch_feeds, new_entries
    from banwatch.ingest.http import make_client

    state = _state(run_dir)
    wanted = set(batch)
    feeds = [feed for feed in settings.feeds if feed.name in wanted]
    with make_client(settings.fetch) as client:
        results = fetch_feeds(feeds, state["states"], client, settings.fetch)
    entries = new_entries(results, state["known_urls"])
    failed = sum(1 for r in results if r.outcome in ("hard", "temporary"))
    path = _dump(Path(run_dir) / f"poll-{_batch_key(batch)}.jsonl", [*results, *entries])
    logger.info("polled %d feeds (%d failed): %d new entries", len(results), failed, len(entries))
    return Polled(path, feeds=len(results), failed=failed, entries=len(entries))


def fetch_and_extract(
    settings: Settings,
    run_dir: str,
    poll_path: str,
    on_article: Callable[[Article], None] | None = None,
) -> Fetched:
    """Network + CPU: fetch the new entries' pages and extract their text and metadata.

    Extraction runs in `fetch.extract_workers` processes; `on_article` sees each article as it
    is extracted (`run_pass` embeds them meanwhile, see `enrich.embed.EmbedAhead`).
    """
    from banwatch.ingest.extract import fetch_and_extract as run
    from banwatch.ingest.extract_pool import default_workers
    from banwatch.ingest.http import make_client

    entries = _polled(poll_path)[1]
    workers = default_workers(settings.fetch.extract_workers)
    with make_client(settings.fetch) as client:
        articles, counts = run(
            entries, client, settings.fetch, workers=workers, on_article=on_article
        )
    out = Path(poll_path).with_name(Path(poll_path).name.replace("poll-", "articles-"))
    path = _dump(out, articles)
    failed = sum(1 for a in articles if a.outcome in ("hard", "temporary"))
    return Fetched(path, articles=len(articles), failed=failed)


def embed_and_group(settings: Settings, run_dir: str, article_paths: list[str]) -> Grouped:
    """DB read + CPU: embed new articles (title + lead) and group them into stories.

    The stored articles they may join come from the stories index (`enrich.story_index`): each
    new article's `dedupe.neighbours` nearest within its own window, never the whole window.
    Each new article's signature is computed here once and staged, to be stored at load.
    """
    from banwatch.enrich.dedupe import NewArticles, dedupe_stories
    from banwatch.enrich.embed import embed_texts, embedder_from
    from banwatch.enrich.story_index import signature_json, signature_of, stored_articles

    articles = _articles_from(article_paths)
    now = _state(run_dir)["now"]
    path = Path(run_dir) / "stories.jsonl"
    if not articles:
        _dump(path, [], {"ids": [], "matrix": None, "model": settings.embed.model})
        return Grouped(str(path))
    embedder = embedder_from(settings.embed)
    started = time.perf_counter()
    matrix = embed_texts([a.lead for a in articles], embedder, batch_size=settings.embed.batch_size)
    logger.info("embedded %d articles in %.1f s", len(articles), time.perf_counter() - started)
    signatures = [signature_of(a.title, a.text, a.language) for a in articles]
    with _connect(settings) as con:
        stored, found = stored_articles(
            con,
            model=settings.embed.model,
            matrix=matrix,
            published=[a.published_at for a in articles],
            now=now,
            window_days=settings.dedupe.window_days,
            neighbours=settings.dedupe.neighbours,
            warehouse_path=settings.warehouse.path if settings.dedupe.index else None,
        )
    logger.info("stories: %s", found)
    assignments, counts = dedupe_stories(
        NewArticles(
            [a.article_id for a in articles], [a.published_at for a in articles], matrix, signatures
        ),
        stored,
        threshold=settings.dedupe.threshold,
        window_days=settings.dedupe.window_days,
        now=now,
        model_languages=settings.dedupe.model_languages,
        decider=settings.dedupe.decider,
    )
    ids_new = [a.article_id for a in articles]
    sidecar = write_matrix(path.with_suffix(".npy"), matrix)
    meta = {
        "ids": ids_new,
        "matrix": Path(sidecar).name,
        "model": settings.embed.model,
        "signatures": [signature_json(s) for s in signatures],
    }
    _dump(path, assignments, meta)
    return Grouped(str(path), new_stories=counts["new_stories"])


def _update_story_index(settings: Settings, con: Any, model: str) -> None:
    """After the load commits: add its embeddings to the stories index (a cache, so a failure
    is logged, not fatal; a kill before the save is caught up by the next open)."""
    if not settings.dedupe.index or not model:
        return
    from banwatch.enrich.story_index import open_index

    try:
        open_index(con, settings.warehouse.path, model, None)
    except Exception as exc:  # the warehouse committed; the next pass catches the index up
        logger.warning("stories index not updated (%s); the next pass catches it up", exc)


def detect_events(settings: Settings, run_dir: str, article_paths: list[str]) -> Detected:
    """CPU: detect government app-ban events (and background mentions) in the new articles."""
    from banwatch.enrich.apps import load_catalogue
    from banwatch.enrich.detect import detect_ban_events, load_model
    from banwatch.ingest.extract_pool import existing

    articles = _articles_from(article_paths)
    catalogue = load_catalogue(settings.detect.apps_file or None)
    detections, counts = detect_ban_events(
        articles,
        catalogue=catalogue,
        min_confidence=settings.detect.min_confidence,
        join_confidence=settings.detect.weak_floor,
        feed_countries={f.name: f.country for f in settings.feeds if f.country},
        model=load_model(settings.detect.model_path)
        if settings.detect.decider == "model"
        else None,
        decider=settings.detect.decider,
        pool=existing() if settings.detect.in_workers else None,  # idle extraction workers
    )
    path = _dump(Path(run_dir) / "detections.pkl", detections)
    logger.info("detections: %s", counts)
    return Detected(path, detections=len(detections))


def load(
    settings: Settings, run_dir: str, staged: Staged, now: dt.datetime, *, replay: bool = False
) -> Loaded:
    """DB write: load feeds, articles, stories and detections; resolve events; fill the outbox.

    Everything is ONE transaction: feed state (ETag/Last-Modified), articles, embeddings,
    stories, detections, events and outbox rows commit together or not at all. A pass killed
    mid-load leaves the warehouse as it was, so the next pass polls and fetches the same items
    again instead of skipping stored URLs whose events were never resolved. The snapshot is
    published once, at the end of the pass (`publish_snapshot`). `checkpoint` marks each former
    commit point (a test hook).

    With `replay`, each article counts as first seen when it was published (a backfill or an
    evaluation over an archive), so the recency window is applied as if banwatch had been running
    then; otherwise everything new is first seen `now`.
    """
    from banwatch.faults import checkpoint
    from banwatch.warehouse import store

    run_id = _state(run_dir)["run_id"]
    results = [r for p in staged.poll_paths for r in _polled(p)[0]]
    articles = _articles_from(staged.article_paths)
    stories = _stories(staged.stories_path)
    detections = _load(staged.detections_path)
    seen_at = {
        a.article_id: (a.published_at if replay and a.published_at else now) for a in articles
    }
    with _connect(settings) as con:
        with store.transaction(con):
            store.load_feed_results(con, results)
            checkpoint("load:feeds")
            new_articles = _load_articles(con, articles, run_id)
            checkpoint("load:articles")
            if stories["ids"]:
                store.load_embeddings(
                    con, stories["ids"], stories["model"], stories["matrix"], stories["signatures"]
                )
            checkpoint("load:embeddings")
            new_stories = store.load_stories(con, stories["assignments"], now)
            checkpoint("load:stories")
            new_events, applied = _load_events(
                settings, con, detections, articles, seen_at, assignments=stories["assignments"]
            )
            checkpoint("load:events")
        checkpoint("load:committed")
        _update_story_index(settings, con, stories["model"])
    loaded = Loaded(
        new_articles=new_articles,
        new_stories=new_stories,
        new_events=new_events,
        alertable_events=applied["queued"],
        candidates=applied["candidates"],
    )
    logger.info("loaded: %s", loaded)
    return loaded


# Articles per `store.load_articles` call in `load`: DuckDB converts and holds the Arrow batch
# of one call at once, which for a whole pass of real pages (~80 KB of gzip page each) took
# ~400 MB of RSS at the pass's peak; in chunks of 64, about half that. Same rows either way.
ARTICLES_PER_LOAD = 64


def _load_articles(con: Any, articles: list[Article], run_id: str) -> int:
    """`store.load_articles` chunk by chunk (in the caller's transaction); how many were new.

    Once stored, an article's page is dropped from `articles` (the rest of the load reads ids,
    URLs and outlets only) and the C heap's free pages go back to the system, so the load's
    last part (the commit, the stories index) starts from less memory.
    """
    from banwatch.warehouse import store

    new = 0
    for start in range(0, len(articles), ARTICLES_PER_LOAD):
        new += store.load_articles(con, articles[start : start + ARTICLES_PER_LOAD], run_id)
    for article in articles:
        article.raw_html_gz = None
    release_freed_memory()
    return new


def release_freed_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing).

    Freed page bodies and texts stay in glibc's per-thread arenas as free memory counted in the
    process's RSS, where neither DuckDB (its own allocator) nor the OS can use them: after the
    fetch stage of a pass over real pages a trim returned 60-100 MB. It costs 6-11 core-ms.
    """
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _load_events(
    settings: Settings,
    con: Any,
    detections: list[Detection],
    articles: Sequence[Article],
    seen_at: Mapping[str, dt.datetime],
    *,
    assignments: Sequence[StoryAssignment],
) -> tuple[int, dict[str, int]]:
    """Store the detections and resolve them into events against the warehouse's history
    (inside `load`'s transaction); returns the new events and `apply_resolution`'s counts.

    With `events.story_sources`, the stories of this pass's articles (and the stored sources in
    them) go along, so a story-mate without a reading of its own becomes a source."""
    from banwatch.enrich.novelty import Sourcing, holder_of, inherit_scopes, resolve_events
    from banwatch.faults import checkpoint
    from banwatch.warehouse import store

    detections = inherit_scopes(
        detections,
        store.holder_states(con, {holder_of(d) for d in detections}),
        settings.events,
    )
    store.load_detections(con, detections)
    checkpoint("load:detections")
    situations = {d.situation for d in detections}
    stories: dict[str, str] = {}
    if settings.events.story_sources:
        story_of = {a.article_id: a.story_id for a in assignments}
        stories, mates = store.story_sources(con, story_of.values())
        stories |= story_of
        situations |= mates
    history = store.situation_history(con, situations)
    resolution = resolve_events(
        detections,
        history,
        seen_at=seen_at,
        recency_days=settings.alerts.recency_days,
        urls={a.article_id: a.url for a in articles},
        outlets={a.article_id: a.site_name or a.feed_name for a in articles},
        min_confidence=settings.alerts.min_confidence,
        policy=Sourcing(
            settings.events, start_confidence=settings.detect.min_confidence, stories=stories
        ),
    )
    return len(resolution.new_events), store.apply_resolution(con, resolution)


def send_alerts(settings: Settings) -> dict[str, Any]:
    """DB write + SMTP: send the outbox (one email per new event, never twice).

    The counts include `undelivered` and `recipients_refused` (see `alerts.send.send_alerts`),
    which make `banwatch run` exit 4.
    """
    from banwatch.alerts.send import mailer_for
    from banwatch.alerts.send import send_alerts as send

    with _connect(settings) as con:
        counts = send(con, mailer_for(settings.alerts), settings.alerts)
    return dict(counts)


def finish_run(settings: Settings, run_id: str, run_dir: str, summary: PassSummary) -> str:
    """DB write: record the run's counts, remove its staging directory, return the summary line."""
    from banwatch.warehouse import store

    with _connect(settings) as con:
        store.finish_run(con, run_id, summary)
    shutil.rmtree(run_dir, ignore_errors=True)
    return summary.line()


def publish_snapshot(settings: Settings) -> dict[str, Any]:
    """DB: publish the analysts' snapshot, once per pass, after its last write.

    It runs after `finish_run`, so the snapshot holds the alerts' status and the finished run;
    `fail_run` publishes too, so a pass whose load committed but that failed later still shows
    its events (see docs/warehouse.md).
    """
    from banwatch.warehouse import store

    with _connect(settings) as con:
        path = store.publish_snapshot(con, settings.warehouse.snapshot)
    return {"path": str(path), "bytes": path.stat().st_size}


def fail_run(settings: Settings, run_id: str, error: str) -> None:
    """DB write: mark a run failed, then publish the snapshot (the pass's failure path).

    A pass may fail after its load committed (SMTP down for good, say): publishing here, rather
    than at the start of the next pass, shows its events at once and costs nothing when the pass
    failed early. A pass killed outright is published by the next pass's end.
    """
    from banwatch.errors import WarehouseError
    from banwatch.warehouse import store

    with _connect(settings) as con:
        store.fail_run(con, run_id, error)
        try:
            store.publish_snapshot(con, settings.warehouse.snapshot)
        except WarehouseError as exc:  # the pass's own error matters more
            logger.warning("%s", exc)


def clean_staging(settings: Settings, older_than_days: int, now: dt.datetime) -> int:
    """Remove staging directories of runs older than `older_than_days` (killed runs leave them)."""
    root = Path(settings.staging.dir)
    if not root.is_dir():
        return 0
    cutoff = (now - dt.timedelta(days=older_than_days)).timestamp()
    removed = 0
    for child in root.iterdir():
        if child.is_dir() and child.stat().st_mtime < cutoff:
            shutil.rmtree(child, ignore_errors=True)
            removed += 1
    logger.info("removed %d staging directories older than %d days", removed, older_than_days)
    return removed


def maintenance(settings: Settings) -> dict[str, Any]:
    """DB write: checkpoint and vacuum the warehouse, then republish the analysts' snapshot."""
    from banwatch.warehouse import store

    path = Path(settings.warehouse.path)
    before = path.stat().st_size if path.exists() else 0
    with _connect(settings) as con:
        store.compact(con)
        store.publish_snapshot(con, settings.warehouse.snapshot)
    after = path.stat().st_size
    logger.info("maintenance: warehouse %d -> %d bytes", before, after)
    return {"bytes_before": before, "bytes_after": after}


def daily_digest(settings: Settings, day: dt.date) -> dict[str, Any]:
    """DB read + SMTP: one email listing the events first seen on `day`, if a digest is set up.

    News events come first; candidates first seen that day (confidence below
    `alerts.min_confidence`, never emailed one by one) follow in their own section, for review.
    A day with neither sends nothing (`skipped`), and a day's digest is sent at most once, however
    often this runs (by hand and by schedule): the `digests` table records it. With
    `alerts.digest_report` the HTML report (`banwatch report`) is attached.
    """
    from banwatch.alerts.digest import compose_digest
    from banwatch.alerts.send import mailer_for
    from banwatch.warehouse import digests, store

    recipients = settings.alerts.digest_recipients
    if not recipients or not settings.alerts.enabled:
        return {"sent": 0, "events": 0, "reason": "no digest_recipients configured"}
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    with _connect(settings) as con:
        events, candidates = store.events_first_seen(con, start, start + dt.timedelta(days=1))
        counts = {"events": len(events), "candidates": len(candidates)}
        if not events and not candidates:
            logger.info("digest for %s skipped: no events and no candidates", day)
            return {"sent": 0, "skipped": 1, **counts, "reason": "no events"}
        if not digests.claim_digest(con, day):
            logger.info("digest for %s not sent: already sent", day)
            return {"sent": 0, **counts, "reason": "already sent"}
        message = compose_digest(
            events,
            day,
            sender=settings.alerts.sender,
            recipients=recipients,
            candidates=candidates,
            sent_at=dt.datetime.now(dt.UTC),
        )
        if settings.alerts.digest_report:
            from banwatch.alerts.digest import attach_report
            from banwatch.report import build_report

            attach_report(message, build_report(con), day)
        mailer = mailer_for(settings.alerts)
        try:
            mailer.send(message)
        except Exception as exc:
            digests.digest_done(
                con, day, (len(events), len(candidates)), message["Message-ID"], str(exc)
            )
            raise
        finally:
            mailer.close()
        digests.digest_done(con, day, (len(events), len(candidates)), message["Message-ID"], None)
        store.publish_snapshot(con, settings.warehouse.snapshot)  # analysts see it was sent
    logger.info(
        "digest for %s: %d events, %d candidates to %d recipients",
        day,
        len(events),
        len(candidates),
        len(recipients),
    )
    return {"sent": 1, **counts}


# ---------------------------------------------------------------- the whole pass


def run_pass(
    settings: Settings,
    *,
    now: dt.datetime | None = None,
    replay: bool = False,
    progress: Progress | None = None,
    run_id: str | None = None,
    send: bool = True,
) -> PassSummary:
    """One pass over every configured feed: the steps above, in order, in this process.

    Without `send` (`banwatch run --no-alerts`) the outbox is filled but nothing is emailed:
    the alerts stay pending for a later pass. Only news events are ever queued (recency is
    judged when an event is first seen), so a later pass never emails historical ones.
    """
    now = now or dt.datetime.now(dt.UTC)
    run_id = run_id or "cli-" + now.strftime("%Y%m%dT%H%M%S.%fZ")
    report = progress or (lambda stage, counts: None)

    started = start_run(settings, run_id, now, pid=os.getpid())
    try:
        return _rest_of_pass(
            settings, run_id, started, now, replay=replay, report=report, send=send
        )
    except Exception as exc:
        logger.warning("pass %s failed: %s", run_id, exc)
        try:
            fail_run(settings, run_id, f"{type(exc).__name__}: {exc}")
        except Exception:  # the original error matters more than the bookkeeping
            logger.exception("could not record the failure of run %s", run_id)
        raise


def _rest_of_pass(
    settings: Settings,
    run_id: str,
    started: Started,
    now: dt.datetime,
    *,
    replay: bool,
    report: Progress,
    send: bool = True,
) -> PassSummary:
    from banwatch.enrich.embed import EmbedAhead
    from banwatch.ingest.extract_pool import default_workers

    run_dir = started.run_dir
    polled: list[Polled] = []
    fetched: list[Fetched] = []
    # Leads are embedded as extraction workers deliver articles; embed_and_group reuses them.
    parallel = default_workers(settings.fetch.extract_workers) > 1
    ahead = EmbedAhead(settings.embed, parallel_extraction=parallel)
    for batch in started.batches:
        polled.append(poll_feeds(settings, run_dir, batch))
        feeds, failed = sum(p.feeds for p in polled), sum(p.failed for p in polled)
        report("poll", {"feeds": feeds, "failed": failed})
        fetched.append(fetch_and_extract(settings, run_dir, polled[-1].path, ahead.add))
        report("fetch", {"articles": fetched[-1].articles, "failed": fetched[-1].failed})
    release_freed_memory()  # the pages' buffers, before the steps that load DuckDB
    grouped = embed_and_group(settings, run_dir, [f.path for f in fetched])
    ahead.close()
    report("stories", {"new_stories": grouped.new_stories})
    detected = detect_events(settings, run_dir, [f.path for f in fetched])
    report("detect", {"detections": detected.detections})
    staged = Staged.of(polled, fetched, grouped, detected)
    loaded = load(settings, run_dir, staged, now, replay=replay)
    report("load", loaded.to_xcom())
    sent = None
    if send:
        sent = send_alerts(settings)
        report("alerts", sent)
    else:
        logger.info("alerts not sent (--no-alerts): they stay pending in the outbox")
        report("alerts", {"sent": 0, "held": loaded.alertable_events})
    summary = summarise(polled, fetched, loaded, sent)
    finish_run(settings, run_id, run_dir, summary)
    publish_snapshot(settings)
    return summary
