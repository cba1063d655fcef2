"""Stories-step cost per new article at 10k, 100k and 1M stored articles: index against scan.

Synthetic 384-d unit vectors clustered like news (stories of 1-40 near copies, topics shared by
many stories), all stored within the window of the new batch (the worst case: the window holds
every stored article). A batch of new articles (three in four near copies of a stored story, the
rest unrelated) is grouped twice, side by side in one run:

* index: `StoryIndex.search` (usearch HNSW, one thread) for each new article's `k` nearest in
  its window, then `dedupe_stories` over those neighbours only (their signatures parsed from the
  stored JSON, as a pass reads them);
* scan (the path before the index): `dedupe_stories` over every stored article of the window;
  before the index a pass also recomputed every stored signature, shown as N x the measured
  cost of one `story_signature`.

Printed per size: index build (core-s, wall-s), the process RSS it added, its files' size, save
time; core-ms per new article (median of `--repeats` batches) for the search, the decision and
both; the scan's core-ms per new article; recall@1 (the exact top-1 by numpy matmul is among the
index's candidates, so the re-ranked top-1 is the brute-force one), over all new articles and
over those whose top-1 reaches the threshold; and in how many batches both paths assign every
new article the same story.

    python bench/stories_scale.py                          # 10k, 100k, 1M; scan at 10k, 100k
    python bench/stories_scale.py --sizes 10000 --scan-sizes 10000   # quick
    python bench/stories_scale.py --sizes --read-sizes 100000 1000000  # the warehouse read only
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import banwatch.enrich.story_index as story_index  # noqa: E402
from banwatch.enrich.dedupe import NewArticles, StoredArticles, dedupe_stories  # noqa: E402
from banwatch.enrich.story_index import (  # noqa: E402
    StoryIndex,
    seconds,
    signature_from_json,
    signature_json,
    signature_of,
)

NOW = dt.datetime(2026, 3, 19, 12, 0, tzinfo=dt.UTC)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def corpus(rng: np.random.Generator, n: int, dim: int, window_days: float):
    """`n` stored vectors in stories of 1-40 near copies, their story numbers and times."""
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
    span = window_days * 86400.0 * 0.95
    times = np.sort(rng.uniform(seconds(NOW, NOW) - span, seconds(NOW, NOW), n))
    return matrix, owner, times, centres


def near_copy_kept(matrix: np.ndarray, owner: np.ndarray, within: float) -> np.ndarray:
    """Which items to index when a copy within cos `within` of an already indexed item of
    its own story is left out (its story stays findable through that item)."""
    keep = np.ones(len(owner), bool)
    if within >= 1:
        return keep
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    for lo, hi in zip(starts, np.r_[starts[1:], len(owner)], strict=True):
        if hi - lo < 2:
            continue
        sims = matrix[lo:hi] @ matrix[lo:hi].T
        indexed = [0]
        for j in range(1, hi - lo):
            if sims[j, indexed].max() >= within:
                keep[lo + j] = False
            else:
                indexed.append(j)
    return keep


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


def one_size(args: argparse.Namespace, n: int, scan: bool, sig_ms: float) -> dict:
    rng = np.random.default_rng(args.seed + n)
    matrix, owner, times, centres = corpus(rng, n, args.dim, args.window_days)
    ids = [f"a{j}" for j in range(n)]
    story_ids = [f"s{o}" for o in owner]
    published = [EPOCH + dt.timedelta(seconds=float(t)) for t in times]
    template = signature_of("Ferry terminal opens on the north quay", "Crossings resume.", "en")
    stored_json = signature_json(template)  # every stored row carries its signature as JSON

    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        index = StoryIndex(Path(tmp) / "bench.stories", "bench", args.dim, changed=True)
        rss0, start, wall = rss_mb(), cpu(), time.perf_counter()
        keep = near_copy_kept(matrix, owner, args.skip_within)
        seqs = np.arange(1, n + 1, dtype=np.int64)[keep]
        kept_times, kept = times[keep], matrix[keep]
        for lo in range(0, len(seqs), 50_000):
            index.add(seqs[lo : lo + 50_000], kept_times[lo : lo + 50_000], kept[lo : lo + 50_000])
        build_cpu, build_wall, rss_added = (
            cpu() - start,
            time.perf_counter() - wall,
            rss_mb() - rss0,
        )
        wall = time.perf_counter()
        index.save()
        save_wall = time.perf_counter() - wall
        size_mb = sum(p.stat().st_size for p in index.path.iterdir()) / 1e6

        new_ids = [f"n{i}" for i in range(args.batch)]
        new_published = [NOW] * args.batch
        new_sigs = [template] * args.batch
        search_ms, decide_ms, scan_ms, recall_all, recall_join, same = [], [], [], [], [], []
        story_join: list[float] = []
        for _ in range(args.repeats):
            queries = batch(rng, centres, args.batch, args.dim)
            qtimes = [seconds(NOW, NOW)] * args.batch
            start = cpu()
            hits = index.search(queries, qtimes, args.window_days, args.k)
            search_ms.append((cpu() - start) / args.batch * 1000)

            start = cpu()
            rows = np.unique(np.concatenate(hits)) - 1  # seq j + 1 is row j
            if args.skip_within < 1:  # the skipped copies are read through their story
                rows = np.flatnonzero(np.isin(owner, owner[rows]))
            stored = StoredArticles(
                [ids[j] for j in rows],
                [story_ids[j] for j in rows],
                [published[j] for j in rows],
                matrix[rows],
                [signature_from_json(stored_json) for _ in rows],
            )
            via_index = dedupe_stories(
                NewArticles(new_ids, new_published, queries, new_sigs),
                stored,
                threshold=args.threshold,
                window_days=args.window_days,
                now=NOW,
            )[0]
            decide_ms.append((cpu() - start) / args.batch * 1000)

            sims = queries @ matrix.T
            exact = np.argmax(sims, axis=1) + 1
            found = np.array([e in h for e, h in zip(exact, hits, strict=True)])
            joins = sims.max(axis=1) >= args.threshold
            recall_all.append(found.mean())
            recall_join.append(found[joins].mean() if joins.any() else float("nan"))
            # in the story sense: the exact top-1's story is among the candidates' stories
            in_story = np.array(
                [owner[e - 1] in set(owner[h - 1]) for e, h in zip(exact, hits, strict=True)]
            )
            story_join.append(in_story[joins].mean() if joins.any() else float("nan"))
            del sims
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
                same.append([a.story_id for a in by_scan] == [a.story_id for a in via_index])
    return {
        "n": n,
        "build_cpu": build_cpu,
        "build_wall": build_wall,
        "rss_added": rss_added,
        "size_mb": size_mb,
        "save_wall": save_wall,
        "search": statistics.median(search_ms),
        "decide": statistics.median(decide_ms),
        "scan": statistics.median(scan_ms) if scan_ms else None,
        "resign": n * sig_ms / args.batch,
        "indexed": int(keep.sum()),
        "recall_all": float(np.mean(recall_all)),
        "recall_join": float(np.nanmean(recall_join)),
        "story_join": float(np.nanmean(story_join)),
        "same": f"{sum(same)}/{len(same)}" if same else "-",
    }


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
            seqs = rng.integers(1, n + 1, args.batch * args.k)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--scan-sizes", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--window-days", type=float, default=3.0)
    parser.add_argument("--threshold", type=float, default=0.55)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp", default=None, help="directory for the index files")
    parser.add_argument(
        "--read-sizes", type=int, nargs="*", default=[], help="also time the warehouse read"
    )
    parser.add_argument("--dtype", default=story_index.DTYPE, help="index scalar: f16, f32")
    parser.add_argument("--connectivity", type=int, default=story_index.CONNECTIVITY)
    parser.add_argument(
        "--skip-within",
        type=float,
        default=1.0,
        help="leave out copies within this cos of an indexed item of their story (1: none)",
    )
    parser.add_argument("--expansion", type=int, default=story_index.EXPANSION_SEARCH)
    args = parser.parse_args()
    story_index.DTYPE, story_index.CONNECTIVITY = args.dtype, args.connectivity
    story_index.EXPANSION_ADD = story_index.EXPANSION_SEARCH = args.expansion
    print(
        f"usearch HNSW {args.dtype}, {args.connectivity} links, expansion {args.expansion}, "
        f"k={args.k}, near copies left out at cos >= {args.skip_within}"
    )
    for n in args.read_sizes:
        full, light = read_cost(args, n)
        print(
            f"reading the neighbours at {n:,} stored: {full:.3f} core-ms per new article with "
            f"the embeddings from DuckDB, {light:.3f} with them from the vectors file"
        )

    sig_ms = signature_cost()
    print(f"story_signature: {sig_ms:.2f} core-ms each (the scan recomputed one per stored row)")
    header = (
        f"{'stored':>9} | {'build core-s':>12} {'wall-s':>7} {'+RSS MB':>8} {'files MB':>8} "
        f"{'save s':>6} | {'search':>6} {'decide':>6} {'index':>6} | {'scan':>7} {'+resign':>8} "
        f"| {'recall@1':>8} {'joins':>6} {'story':>6} | same"
    )
    print(
        "core-ms per new article (median of batches); recall@1: exact top-1 among candidates; "
        "joins: the same over new articles whose top-1 reaches the threshold; story: over those, "
        "the exact top-1's story among the candidates' stories (what the decision needs)"
    )
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        r = one_size(args, n, n in args.scan_sizes, sig_ms)
        scan = f"{r['scan']:7.2f}" if r["scan"] is not None else f"{'-':>7}"
        resign = f"{r['resign']:8.0f}" if r["scan"] is not None else f"{'-':>8}"
        print(f"indexed {r['indexed']:,} of {r['n']:,} stored")
        print(
            f"{r['n']:>9,} | {r['build_cpu']:12.1f} {r['build_wall']:7.1f} {r['rss_added']:8.0f} "
            f"{r['size_mb']:8.0f} {r['save_wall']:6.1f} | {r['search']:6.3f} {r['decide']:6.3f} "
            f"{r['search'] + r['decide']:6.3f} | {scan} {resign} | {r['recall_all']:8.3f} "
            f"{r['recall_join']:6.3f} {r['story_join']:6.3f} | {r['same']}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
