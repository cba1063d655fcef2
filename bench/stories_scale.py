"""Stories-step cost per new article at 10k, 100k and 1M stored articles: index against scan.

Synthetic 384-d unit vectors clustered like news (stories of 1-40 near copies, topics shared by
many stories), all stored within the window of the new batch (the worst case: the window holds
every stored article). A batch of new articles (three in four near copies of a stored story, the
rest unrelated) is grouped, side by side in one run:

* index (`--compare` adds the configuration before issue 8's fix, built over the same corpus
  and searched with the same batches): `StoryIndex.search` (usearch HNSW, one thread) for each
  new article's `k` nearest in its window, then `dedupe_stories` over those hits and the other
  members of their stories, as the pipeline reads them (signatures parsed from stored JSON);
  then adding a batch of new articles to the built index, as a pass does after its load;
* scan (the path before the index): `dedupe_stories` over every stored article of the window;
  before the index a pass also recomputed every stored signature, shown as N x the measured
  cost of one `story_signature`.

Printed per size and configuration: index build (core-s, wall-s), the process RSS it added, its
files' size, save time; core-ms per new article (median of `--repeats` batches) to add, search
and decide, and their sum; the scan's core-ms per new article; recall@1 (the exact top-1 by numpy
matmul is among the index's hits), over all new articles and over those whose top-1 reaches
the threshold; over the latter, whether the exact top-1 is among the rows the decision reads;
and in how many batches both paths assign every new article the same story.

    python bench/stories_scale.py                          # 10k, 100k, 1M; scan at 10k, 100k
    python bench/stories_scale.py --sizes 100000 --compare # before and after side by side
    python bench/stories_scale.py --sizes 10000 --scan-sizes 10000   # quick
    python bench/stories_scale.py --sizes --read-sizes 100000 1000000  # the warehouse read only
    python bench/stories_scale.py --sizes --warehouse 100000 --k 20  # the step over a real
        # warehouse: open, search, read (before: every member's row; now: hits + aggregated
        # vetoes), decide, add; before and now side by side on the same batches
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import banwatch.enrich.blas as blas  # noqa: E402
import banwatch.enrich.dedupe as dedupe_module  # noqa: E402
import banwatch.enrich.story_index as story_index  # noqa: E402
from banwatch.enrich.dedupe import (  # noqa: E402
    SIGNATURE_VERSION,
    NewArticles,
    StoredArticles,
    dedupe_stories,
    story_id_for,
)
from banwatch.enrich.story_index import (  # noqa: E402
    StoryIndex,
    seconds,
    signature_from_json,
    signature_json,
    signature_of,
)

NOW = dt.datetime(2026, 3, 19, 12, 0, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _hashed(text: str) -> str:
    """An id shaped like an article's (the first 16 hex digits of a sha1)."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def corpus(
    rng: np.random.Generator,
    n: int,
    dim: int,
    window_days: float,
    spread_days: float | None = None,
):
    """`n` stored vectors in stories of 1-40 near copies, their story numbers and times: all
    within the window before `NOW` (the worst case), or, with `spread_days`, over that many days
    before it in load order (a story's members loaded, and published, close together)."""
    topics = unit(rng.standard_normal((max(50, n // 2000), dim)))
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(min(40, rng.geometric(0.15))))
    sizes[-1] -= sum(sizes) - n
    stories = len(sizes)
    centres = np.empty((stories, dim), np.float32)
    for lo in range(0, stories, 50_000):
        hi = min(stories, lo + 50_000)
        centres[lo:hi] = unit(
            0.6 * topics[rng.integers(0, len(topics), hi - lo)]
            + unit(rng.standard_normal((hi - lo, dim)))
        )
    owner = np.repeat(np.arange(stories), sizes)
    matrix = np.empty((n, dim), np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        noise = rng.standard_normal((hi - lo, dim), dtype=np.float32) * 0.03
        matrix[lo:hi] = unit(centres[owner[lo:hi]] + noise)
    span = (spread_days or window_days * 0.95) * 86400.0
    times = np.sort(rng.uniform(seconds(NOW, NOW) - span, seconds(NOW, NOW), n))
    return matrix, owner, times, centres


def batch(rng: np.random.Generator, centres: np.ndarray, size: int, dim: int) -> np.ndarray:
    copies = int(size * 0.75)
    chosen = centres[rng.integers(0, len(centres), copies)]
    noise = rng.standard_normal((copies, dim), dtype=np.float32) * 0.03
    return np.vstack([unit(chosen + noise), unit(rng.standard_normal((size - copies, dim)))])


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu() -> float:
    return time.process_time()


def signature_cost(repeats: int = 200) -> float:
    """core-ms of one `story_signature` on a short made-up head (what the scan recomputed)."""
    title = "Harbour authority opens its new ferry terminal on the north quay"
    text = "Crossings to the islands leave every forty minutes from the new berths. More follows."
    signature_of(title, text, "en")  # warm the catalogues
    start = cpu()
    for i in range(repeats):
        signature_of(f"{title} {i}", text, "en")
    return (cpu() - start) / repeats * 1000


@dataclass
class Config:
    """One index configuration of the run (`--compare` adds the one before issue 8's fix)."""

    name: str
    dtype: str
    follow: float  # FOLLOW_WITHIN: 1 = every item in the graph
    expansion: int


def build(args: argparse.Namespace, config: Config, tmp: str, data: tuple) -> tuple:
    """The index of `config` over the corpus, and its build figures."""
    matrix, times = data
    story_index.DTYPE, story_index.FOLLOW_WITHIN = config.dtype, config.follow
    story_index.EXPANSION_ADD = story_index.EXPANSION_SEARCH = config.expansion
    index = StoryIndex(Path(tmp) / f"{config.name}.stories", "bench", args.dim, changed=True)
    rss0, start, wall = rss_mb(), cpu(), time.perf_counter()
    seqs = np.arange(1, len(matrix) + 1, dtype=np.int64)
    for lo in range(0, len(seqs), 50_000):
        index.add(seqs[lo : lo + 50_000], times[lo : lo + 50_000], matrix[lo : lo + 50_000])
    figures = {
        "build_cpu": cpu() - start,
        "build_wall": time.perf_counter() - wall,
        "rss_added": rss_mb() - rss0,
        "indexed": sum(len(s.keys) for s in index.shards.values()),
    }
    wall = time.perf_counter()
    index.save()
    figures["save_wall"] = time.perf_counter() - wall
    figures["size_mb"] = sum(p.stat().st_size for p in index.path.iterdir()) / 1e6
    return index, figures


def one_size(args: argparse.Namespace, n: int, scan: bool, sig_ms: float) -> list[dict]:
    rng = np.random.default_rng(args.seed + n)
    matrix, owner, times, centres = corpus(rng, n, args.dim, args.window_days)
    ids = [f"a{j}" for j in range(n)]
    story_ids = [f"s{o}" for o in owner]
    published = [EPOCH + dt.timedelta(seconds=float(t)) for t in times]
    template = signature_of("Ferry terminal opens on the north quay", "Crossings resume.", "en")
    stored_json = signature_json(template)  # every stored row carries its signature as JSON
    configs = [Config("new", args.dtype, args.follow_within, args.expansion)]
    if args.compare:
        configs.insert(0, Config("before", "f16", 1.0, 128))
    members = np.split(np.arange(n), np.flatnonzero(np.diff(owner)) + 1)  # story -> rows

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        built = [build(args, c, tmp, (matrix, times)) for c in configs]
        new_ids = [f"n{i}" for i in range(args.batch)]
        new_published = [NOW] * args.batch
        new_sigs = [template] * args.batch
        runs = [(c, k) for c in configs for k in args.k]  # k: searched on the same index
        per = {(c.name, k): {f: [] for f in ("search", "decide", "union", "r1", "join", "story",
                                             "same", "agree")}
               for c, k in runs}  # fmt: skip
        scan_ms: list[float] = []
        for _ in range(args.repeats):
            queries = batch(rng, centres, args.batch, args.dim)
            qtimes = [seconds(NOW, NOW)] * args.batch
            sims = queries @ matrix.T
            exact = np.argmax(sims, axis=1) + 1
            joins = sims.max(axis=1) >= args.threshold
            del sims
            by_scan = None
            if scan:
                start = cpu()
                everything = StoredArticles(
                    ids, story_ids, published, matrix, [signature_from_json(stored_json)] * n
                )
                by_scan = dedupe_stories(
                    NewArticles(new_ids, new_published, queries, new_sigs),
                    everything,
                    threshold=args.threshold,
                    window_days=args.window_days,
                    now=NOW,
                )[0]
                scan_ms.append((cpu() - start) / args.batch * 1000)
            for config, k in runs:
                index = built[configs.index(config)][0]
                start = cpu()
                hits = index.search(queries, qtimes, args.window_days, k)
                per[config.name, k]["search"].append((cpu() - start) / args.batch * 1000)

                f = per[config.name, k]
                # as the pipeline reads them: the hits and the other members of their stories,
                # each new article decided on its own (reach); then, as before, on the union
                decided = {}
                for mode in ("decide", "union"):
                    start = cpu()
                    found = np.unique(np.concatenate(hits)) - 1  # seq j + 1 is row j
                    rows = np.concatenate([members[o] for o in np.unique(owner[found])])
                    row_story = [story_ids[j] for j in rows]
                    stored = StoredArticles(
                        [ids[j] for j in rows],
                        row_story,
                        [published[j] for j in rows],
                        matrix[rows],
                        [signature_from_json(stored_json) for _ in rows],
                        story_index.reach_of(hits, rows + 1) if mode == "decide" else None,
                    )
                    decided[mode] = dedupe_stories(
                        NewArticles(new_ids, new_published, queries, new_sigs),
                        stored,
                        threshold=args.threshold,
                        window_days=args.window_days,
                        now=NOW,
                    )[0]
                    f[mode].append((cpu() - start) / args.batch * 1000)
                via_index = decided["decide"]
                f["agree"].append(via_index == decided["union"])
                top = np.array([e in h for e, h in zip(exact, hits, strict=True)])
                f["r1"].append(top.mean())
                f["join"].append(top[joins].mean())
                # what the decision sees: the exact top-1 is among the rows read (its story's)
                f["story"].append(np.isin(owner[exact[joins] - 1], owner[found]).mean())
                if by_scan is not None:
                    f["same"].append(
                        [a.story_id for a in by_scan] == [a.story_id for a in via_index]
                    )
        added = {}
        for config, (index, _) in zip(configs, built, strict=True):
            story_index.FOLLOW_WITHIN = config.follow  # adding a pass's new articles
            start = cpu()
            index.add(
                np.arange(n + 1, n + args.batch + 1, dtype=np.int64),
                np.full(args.batch, seconds(NOW, NOW)),
                batch(rng, centres, args.batch, args.dim),
            )
            added[config.name] = (cpu() - start) / args.batch * 1000
        results = []
        for config, k in runs:
            f, figures = per[config.name, k], built[configs.index(config)][1]
            results.append(
                {
                    **figures,
                    "n": n,
                    "config": config,
                    "k": k,
                    "add": added[config.name],
                    "search": statistics.median(f["search"]),
                    "decide": statistics.median(f["decide"]),
                    "union": statistics.median(f["union"]),
                    "agree": f"{sum(f['agree'])}/{len(f['agree'])}",
                    "scan": statistics.median(scan_ms) if scan_ms else None,
                    "resign": n * sig_ms / args.batch,
                    "recall_all": float(np.mean(f["r1"])),
                    "recall_join": float(np.mean(f["join"])),
                    "story_join": float(np.mean(f["story"])),
                    "same": f"{sum(f['same'])}/{len(f['same'])}" if f["same"] else "-",
                }
            )
    return results


def read_cost(args: argparse.Namespace, n: int) -> tuple[float, float]:
    """core-ms per new article of reading the neighbours' rows back from a real warehouse file
    (`store.neighbour_embeddings`: 20 random neighbours per new article and their stories), with
    the embedding column, and without it plus their vectors from the index's vectors file."""
    import pyarrow as pa
    from banwatch.warehouse import store
    from banwatch.warehouse.load import insert_arrow

    rng = np.random.default_rng(args.seed)
    matrix, owner, times, _ = corpus(rng, n, args.dim, args.window_days)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        con = store.connect(Path(tmp) / "bench.duckdb")
        ts = pa.array(
            [EPOCH + dt.timedelta(seconds=float(t)) for t in times], pa.timestamp("us", "UTC")
        )
        ids = pa.array([f"a{j}" for j in range(n)], pa.string())
        insert_arrow(
            con,
            "articles",
            pa.table({"article_id": ids, "url": ids, "published_at": ts,
                      "story_id": pa.array([f"s{o}" for o in owner], pa.string())}),
        )  # fmt: skip
        offsets = pa.array(np.arange(0, n * args.dim + 1, args.dim, dtype=np.int32))
        insert_arrow(
            con,
            "article_embeddings",
            pa.table({"article_id": ids, "model": pa.array(["bench"] * n, pa.string()),
                      "embedding": pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1))),
                      "signature": pa.array(["{}"] * n, pa.string()),
                      "seq": pa.array(np.arange(1, n + 1, dtype=np.int64))}),
        )  # fmt: skip
        # The vectors file only (`StoryIndex.vectors` reads no graph): shard keys, no HNSW.
        index = StoryIndex(Path(tmp) / "bench.stories", "bench", args.dim)
        index.shards[0] = story_index._Shard(None, np.arange(1, n + 1, dtype=np.int64), times)
        for lo in range(0, n, 50_000):
            index._append_vectors(matrix[lo : lo + 50_000])
        since, until = NOW - dt.timedelta(days=6), NOW + dt.timedelta(days=3)
        costs, light = [], []
        for _ in range(args.repeats):
            seqs = rng.integers(1, n + 1, args.batch * max(args.k))
            start = cpu()
            store.neighbour_embeddings(con, "bench", seqs, since, until)
            costs.append((cpu() - start) / args.batch * 1000)
            start = cpu()
            rows = store.neighbour_embeddings(con, "bench", seqs, since, until, vectors=False)
            got = index.vectors(np.array(rows["seq"], np.int64))
            light.append((cpu() - start) / args.batch * 1000)
            assert got is not None and len(got) == len(rows["article_id"])
        con.close()
    return statistics.median(costs), statistics.median(light)


PLACES = ("US", "US-TX", "US-MT", "GB", "CA", "AU", "IN", "CN", "RU", "FR", "DE", "TR", "BR", "NG")
APPS = ("tiktok", "telegram", "whatsapp", "wechat", "signal", "deepseek", "x", "roblox", "discord")
ACTIONS = (None, None, "ban", "ban", "proposed", "lifted")
VOCAB = tuple(f"word{j:04d}" for j in range(3000))
MODEL = "bench"


def story_signature_of(rng: np.random.Generator) -> dict:
    """A made-up story's signature: its places, apps, action, title words and language."""
    places = sorted(set(rng.choice(PLACES, int(rng.integers(0, 3))).tolist()))
    weak = [p for p in places if rng.random() < 0.2]
    return {
        "v": SIGNATURE_VERSION,
        "language": str(rng.choice(["en"] * 17 + ["de", "de", "fr"])),
        "places": places,
        "weak_places": weak,
        "apps": sorted(
            set(rng.choice(APPS, int(rng.integers(0, 2) + (rng.random() < 0.7))).tolist())
        ),
        "action": ACTIONS[int(rng.integers(0, len(ACTIONS)))],
        "words": sorted(set(rng.choice(VOCAB, 6).tolist())),
        "comment": bool(rng.random() < 0.03),
        "company": bool(rng.random() < 0.05),
        "companies": [],
    }


def member_signature(rng: np.random.Generator, base: dict) -> dict:
    """One article of a story: mostly its story's sets, some name one place more or less,
    another action; their title words differ by one or two."""
    sig = dict(base)
    words = list(base["words"])
    for _ in range(int(rng.integers(1, 3))):
        words[int(rng.integers(0, len(words)))] = str(rng.choice(VOCAB))
    sig["words"] = sorted(set(words))
    roll = rng.random()
    if roll < 0.1:
        sig["places"] = sorted({*base["places"], str(rng.choice(PLACES))})
    elif roll < 0.2:
        sig["places"], sig["weak_places"] = [], []
    elif roll < 0.27:
        sig["action"] = ACTIONS[int(rng.integers(0, len(ACTIONS)))]
    sig["weak_places"] = [p for p in sig["weak_places"] if p in sig["places"]]
    return sig


def _signature_texts(rng: np.random.Generator, owner: np.ndarray) -> tuple[list[dict], list[str]]:
    """Each made-up story's signature and each stored article's, as stored JSON."""
    bases = [story_signature_of(rng) for _ in range(int(owner.max()) + 1)]
    return bases, [signature_json(member_signature(rng, bases[o])) for o in owner]


def _put(con, rows: tuple, seq0: int) -> None:
    """Stored articles (ids, story ids, times, vectors, signatures as JSON) and their
    embeddings, seqs from `seq0` + 1, as a pass's load leaves them (one model)."""
    import pyarrow as pa
    from banwatch.warehouse.load import insert_arrow

    ids, owner_ids, times, matrix, texts = rows
    n = len(ids)
    ts = pa.array(
        [EPOCH + dt.timedelta(seconds=float(t)) for t in times], pa.timestamp("us", "UTC")
    )
    aid = pa.array(ids, pa.string())
    insert_arrow(con, "articles", pa.table({
        "article_id": aid, "url": aid, "published_at": ts, "language": pa.array(
            [json.loads(t)["language"] for t in texts], pa.string()),
        "story_id": pa.array(owner_ids, pa.string())}))  # fmt: skip
    offsets = pa.array(np.arange(0, n * matrix.shape[1] + 1, matrix.shape[1], dtype=np.int32))
    insert_arrow(con, "article_embeddings", pa.table({
        "article_id": aid, "model": pa.array([MODEL] * n, pa.string()),
        "embedding": pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1))),
        "signature": pa.array(texts, pa.string()),
        "seq": pa.array(np.arange(seq0 + 1, seq0 + n + 1, dtype=np.int64))}))  # fmt: skip


def read_members(con, index, hits, since, until):
    """The read before `story_index.read_hits`: every member of the hits' stories back from
    the warehouse, each signature parsed, the stories' veto sets built in `dedupe_stories`."""
    from banwatch.warehouse import store

    seqs = np.unique(np.concatenate(hits))
    rows = store.neighbour_embeddings(con, MODEL, seqs, since, until, vectors=False)
    rows["embedding"] = index.vectors(np.array(rows["seq"], np.int64))
    signatures = [signature_from_json(s) for s in rows["signature"]]
    return StoredArticles(
        rows["article_id"],
        rows["story_id"],
        rows["published_at"],
        rows["embedding"],
        signatures,
        story_index.reach_of(hits, rows["seq"]),
    )


def _new_batch(args, rng, centres, bases, prefix: str, *, recent: np.ndarray) -> NewArticles:
    """New articles: three in four near copies of a stored story (with a member's signature)
    among the `recent` ones (with a member in the window), the rest unrelated (a signature of
    their own)."""
    copies = int(args.batch * 0.75)
    picks = recent[rng.integers(0, len(recent), copies)]
    noise = rng.standard_normal((copies, args.dim), dtype=np.float32) * 0.03
    other = unit(rng.standard_normal((args.batch - copies, args.dim)))
    sigs = [member_signature(rng, bases[p]) for p in picks]
    sigs += [story_signature_of(rng) for _ in range(args.batch - copies)]
    ids = [f"{prefix}{i}" for i in range(args.batch)]
    return NewArticles(
        ids, [NOW] * args.batch, np.vstack([unit(centres[picks] + noise), other]), sigs
    )


def _add_cost(con, path: Path, args, new: NewArticles, n: int) -> tuple[float, float]:
    """core-ms per new article of the pass's index update after its load (`open_index`: sync
    from the warehouse, then save), the batch loaded as new stories."""
    rows = (list(new.article_ids), [f"s-{a}" for a in new.article_ids],
            np.full(args.batch, seconds(NOW, NOW)), new.matrix,
            [signature_json(s) for s in new.signatures])  # fmt: skip
    _put(con, rows, n)
    index = StoryIndex.load(story_index.index_dir(path, MODEL), MODEL, args.dim)
    t0 = cpu()
    index.sync(con)
    t1 = cpu()
    index.save()
    t2 = cpu()
    return (t1 - t0) / args.batch * 1000, (t2 - t1) / args.batch * 1000


def _stored_ids(
    args: argparse.Namespace, owner: np.ndarray, times: np.ndarray
) -> tuple[list[str], list[str], np.ndarray]:
    """Article and story ids shaped as the pipeline makes them (hashes: no zone map narrows a
    scan by id), and the stories with a member in the new batch's window."""
    article_ids = [_hashed(f"a{j}") for j in range(len(owner))]
    story_ids = [story_id_for(_hashed(f"first-{o}")) for o in range(int(owner.max()) + 1)]
    recent = np.unique(owner[times >= seconds(NOW, NOW) - args.window_days * 86400.0])
    return article_ids, story_ids, recent


def _bound_pair(con, index, hits, window: tuple, args, *, rep: int) -> tuple[float, float]:
    """core-ms per new article of today's read with the window's seq bound and without it
    (every row of the warehouse scanned, as before 2026-12-08), back to back on the same hits,
    alternating which goes first."""
    since, until = window
    bound = StoryIndex.first_seq
    out = {}
    for bounded in (True, False) if rep % 2 == 0 else (False, True):
        if not bounded:
            StoryIndex.first_seq = lambda self, since: 0  # type: ignore[method-assign]
        try:
            t0 = cpu()
            story_index.read_hits(con, MODEL, index, hits, since=since, until=until, dim=args.dim)
            out[bounded] = (cpu() - t0) / args.batch * 1000
        finally:
            StoryIndex.first_seq = bound  # type: ignore[method-assign]
    return out[True], out[False]


def _window_rows(matrix: np.ndarray, times: np.ndarray, window_days: float) -> tuple:
    """The stored vectors inside the new batch's window (it opens `window_days` before NOW;
    nothing is stored after it) and their seqs (row j is seq j + 1)."""
    inside = np.flatnonzero(times >= seconds(NOW, NOW) - window_days * 86400.0)
    return matrix[inside], inside.astype(np.int64) + 1


def _recall_at_1(hits, queries: np.ndarray, window_rows: tuple, threshold: float) -> tuple:
    """(new articles whose exact nearest stored article in the window, by brute force, is
    among the index's hits; new articles whose nearest reaches `threshold`), over the latter."""
    vectors, seqs = window_rows
    sims = queries @ vectors.T
    exact, joins = seqs[np.argmax(sims, axis=1)], sims.max(axis=1) >= threshold
    found = sum(
        bool(j) and int(e) in set(h.tolist()) for e, j, h in zip(exact, joins, hits, strict=True)
    )
    return found, int(joins.sum())


def _load_store(con, rows: tuple) -> None:
    """The stored articles (ids, story ids, times, vectors, signatures) loaded 100k at a time."""
    for lo in range(0, len(rows[0]), 100_000):
        _put(con, tuple(column[lo : lo + 100_000] for column in rows), lo)


def _timed_step(mode: str, where: tuple, new: NewArticles, qtimes: list, per: dict) -> tuple:
    """One stories step over the warehouse, its read as before or as now (`mode`), each part's
    core-ms per new article appended to `per`; returns the index, the hits and the stories."""
    con, path, args = where
    window, k = args.window_days, args.k[0]
    since, until = story_index.batch_window(qtimes, window)
    pinned = contextlib.nullcontext if mode == "before" else blas.one_thread
    dedupe_module.one_thread = story_index.one_thread = pinned
    t0 = cpu()
    index = story_index.open_index(con, path, MODEL, args.dim)
    t1 = cpu()
    hits = story_index.neighbourhood(index, new.matrix, qtimes, window, k)
    t2 = cpu()
    if mode == "before":
        stored = read_members(con, index, hits, since, until)
    else:
        stored, _ = story_index.read_hits(
            con, MODEL, index, hits, since=since, until=until, dim=args.dim
        )
    t3 = cpu()
    decided = dedupe_stories(new, stored, threshold=args.threshold, window_days=window, now=NOW)[0]
    t4 = cpu()
    time.sleep(0.3)  # idle BLAS threads spinning after the products: their cost too
    spin = cpu() - t4
    tail = "_before" if mode == "before" else ""
    per["spin" + tail].append(spin / args.batch * 1000)
    per["read" + tail].append((t3 - t2) / args.batch * 1000)
    per["decide" + tail].append((t4 - t3) / args.batch * 1000)
    per["rows" + tail].append(len(stored.article_ids))
    if mode == "after":
        per["open"].append((t1 - t0) / args.batch * 1000)
        per["search"].append((t2 - t1) / args.batch * 1000)
    return index, hits, decided


def warehouse_run(args: argparse.Namespace, n: int) -> dict:
    """The pipeline's stories step over a real DuckDB warehouse of `n` stored articles: open the
    index (load and sync), search, read the hits and their stories' vetoes, decide; the read
    as before (`read_members`) and as now (`read_hits`) side by side on the same batches."""
    from banwatch.warehouse import store

    rng = np.random.default_rng(args.seed + n)
    matrix, owner, times, centres = corpus(rng, n, args.dim, args.window_days, args.spread_days)
    bases, texts = _signature_texts(rng, owner)
    article_ids, story_ids, recent = _stored_ids(args, owner, times)
    known = set(story_ids)
    k = args.k[0]
    out: dict = {"n": n, "k": k}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "bench.duckdb"
        con = store.connect(path)
        start = cpu()
        _load_store(con, (article_ids, [story_ids[o] for o in owner], times, matrix, texts))
        out["load_cpu"] = cpu() - start
        start = cpu()
        story_index.open_index(con, path, MODEL, args.dim)  # the build, from the warehouse
        out["build_cpu"] = cpu() - start
        window_rows = _window_rows(matrix, times, args.window_days)
        del matrix
        con.close()  # as a pass finds it: checkpointed, opened afresh
        con = store.connect(path)
        per: dict[str, list] = {f: [] for f in (
            "open", "search", "read_before", "decide_before", "read", "decide", "same", "spin",
            "spin_before", "read_bounded", "read_unbounded",
            "rows_before", "rows")}  # fmt: skip
        window = args.window_days
        recall: list[tuple[int, int]] = []
        for rep in range(args.repeats):
            new = _new_batch(args, rng, centres, bases, f"n{rep}-", recent=recent)
            qtimes = [seconds(NOW, NOW)] * args.batch
            since, until = story_index.batch_window(qtimes, window)
            decided = {}
            for mode in ("before", "after") if rep % 2 == 0 else ("after", "before"):
                index, hits, decided[mode] = _timed_step(mode, (con, path, args), new, qtimes, per)
            per["same"].append(decided["before"] == decided["after"])
            recall.append(_recall_at_1(hits, new.matrix, window_rows, args.threshold))
            for name, value in zip(("read_bounded", "read_unbounded"),
                                   _bound_pair(con, index, hits, (since, until), args, rep=rep),
                                   strict=True):  # fmt: skip
                per[name].append(value)
            per["joined"] = per.get("joined", []) + [
                sum(a.story_id in known for a in decided["after"])
            ]
        out["add"], out["save"] = _add_cost(con, path, args, new, n)
        con.close()
    found, joins = np.sum(recall, axis=0)
    out["recall"] = f"{found / max(joins, 1):.3f} ({found:.0f}/{joins:.0f})"
    for name, values in per.items():
        if name == "same":
            out[name] = f"{sum(values)}/{len(values)}"
        else:
            out[name] = statistics.median(values)
    return out


def print_warehouse(r: dict) -> None:
    """One size's line: core-ms per new article, medians over the batches."""
    before = r["read_before"] + r["decide_before"] + r["spin_before"]
    after = r["read"] + r["decide"] + r["spin"]
    print(
        f"{r['n']:>9,} k={r['k']} | load {r['load_cpu']:.0f} core-s, index build "
        f"{r['build_cpu']:.0f} core-s | add {r['add']:.2f} (+save {r['save']:.2f}) open "
        f"{r['open']:.2f} search {r['search']:.2f} | before: read {r['read_before']:.2f} "
        f"decide {r['decide_before']:.2f} +spin {r['spin_before']:.2f} = {before:.2f} "
        f"({r['rows_before']:.0f} rows) | now: read {r['read']:.2f} (again: bounded "
        f"{r['read_bounded']:.2f}, unbounded {r['read_unbounded']:.2f}) decide {r['decide']:.2f} "
        f"+spin {r['spin']:.2f} = {after:.2f} ({r['rows']:.0f} rows) | step "
        f"{r['add'] + r['open'] + r['search'] + after:.2f} | same stories {r['same']}, "
        f"{r['joined']:.0f} joined stored | recall@1 over joining articles {r['recall']}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--scan-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, nargs="+", default=[20], help="neighbours searched")
    parser.add_argument("--window-days", type=float, default=3.0)
    parser.add_argument(
        "--spread-days",
        type=float,
        default=None,
        help="--warehouse: stored articles published over this many days (default: all in the "
        "batch's window, the worst case)",
    )
    parser.add_argument("--threshold", type=float, default=0.55)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp", default=None, help="directory for the index files")
    parser.add_argument(
        "--read-sizes", type=int, nargs="*", default=[], help="also time the warehouse read"
    )
    parser.add_argument(
        "--warehouse",
        type=int,
        nargs="*",
        default=[],
        help="stored sizes: the pipeline's step over a real DuckDB warehouse (read + decide)",
    )
    parser.add_argument("--dtype", default=story_index.DTYPE, help="index scalar: i8, f16, f32")
    parser.add_argument("--connectivity", type=int, default=story_index.CONNECTIVITY)
    parser.add_argument(
        "--follow-within",
        type=float,
        default=story_index.FOLLOW_WITHIN,
        help="near copies within this cos of an indexed item follow it (1: none)",
    )
    parser.add_argument("--expansion", type=int, default=story_index.EXPANSION_SEARCH)
    parser.add_argument(
        "--compare",
        action="store_true",
        help="also build the index as it was before (f16, no followers, expansion 128)",
    )
    args = parser.parse_args()
    story_index.CONNECTIVITY = args.connectivity
    print(
        f"usearch HNSW {args.dtype}, {args.connectivity} links, expansion {args.expansion}, "
        f"k={' and '.join(map(str, args.k))}, near copies follow at cos >= {args.follow_within}"
        + ("; before: f16, no followers, expansion 128" if args.compare else "")
    )
    for n in args.read_sizes:
        full, light = read_cost(args, n)
        print(
            f"reading the neighbours at {n:,} stored: {full:.3f} core-ms per new article with "
            f"the embeddings from DuckDB, {light:.3f} with them from the vectors file"
        )

    for n in args.warehouse:
        print_warehouse(warehouse_run(args, n))

    sig_ms = signature_cost()
    print(f"story_signature: {sig_ms:.2f} core-ms each (the scan recomputed one per stored row)")
    header = (
        f"{'stored':>9} {'index':>6} {'k':>3} | {'build core-s':>12} {'wall-s':>7} {'+RSS MB':>8} "
        f"{'files MB':>8} {'save s':>6} | {'add':>5} {'search':>6} {'decide':>6} {'step':>6} "
        f"{'union':>6} {'agree':>5} "
        f"| {'scan':>7} {'+resign':>8} | {'recall@1':>8} {'joins':>6} {'story':>6} | same"
    )
    print(
        "core-ms per new article (median of batches); add: adding a batch of new articles to "
        "the built index; step = add + search + decide; recall@1: exact top-1 among the "
        "index's hits; joins: the same over new articles whose top-1 reaches the threshold; "
        "story: over those, the exact top-1 among the rows the decision reads (the hits' stories); "
        "decide: each new article against its own hits' stories (the pipeline); union: against "
        "the union of the whole batch's (before); agree: batches where both gave the same stories"
    )
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        for r in one_size(args, n, n in args.scan_sizes, sig_ms):
            scan = f"{r['scan']:7.2f}" if r["scan"] is not None else f"{'-':>7}"
            resign = f"{r['resign']:8.0f}" if r["scan"] is not None else f"{'-':>8}"
            step = r["add"] + r["search"] + r["decide"]
            print(f"{r['config'].name}: {r['config']}; {r['indexed']:,} of {r['n']:,} in the graph")
            print(
                f"{r['n']:>9,} {r['config'].name:>6} {r['k']:3d} | {r['build_cpu']:12.1f} "
                f"{r['build_wall']:7.1f} {r['rss_added']:8.0f} {r['size_mb']:8.0f} "
                f"{r['save_wall']:6.1f} | {r['add']:5.2f} {r['search']:6.3f} {r['decide']:6.3f} "
                f"{step:6.3f} {r['union']:6.3f} {r['agree']:>5} | {scan} {resign} | "
                f"{r['recall_all']:8.3f} {r['recall_join']:6.3f} {r['story_join']:6.3f} "
                f"| {r['same']}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
