"""Stored articles a new one may join, found through an ANN index instead of the whole window.

The stories step compares each new article with stored ones published within `window_days` of
it. Reading, re-signing and scanning the whole window each pass made the step grow with the
window (256 s a pass at 100k stored); this module keeps it flat:

* an approximate-nearest-neighbour index (usearch HNSW, cosine, i8 vectors) over one model's
  stored embeddings, keyed by `article_embeddings.seq`, with each item's time
  (coalesce(published_at, fetched_at));
* near copies are not put in the graph: an item within cos `FOLLOW_WITHIN` and `FOLLOW_SECONDS`
  of one already there *follows* it and is returned with it (tight clusters of copies trapped
  the graph search: recall@1 0.90 at 1M stored, 1.00 with followers, and the graph is 6x
  smaller); a search ranks the graph's hits and their followers on the exact f32 vectors;
* each item's exact f32 vector in one append-only file beside the shards, so the stories step
  reads the neighbours' light columns from DuckDB and their vectors from there (reading the
  embedding column back cost 8 core-ms per new article at 100k stored, the index search 1.1);
* items are split into shards by week of that time, so a search touches only the one or two
  shards overlapping an article's own window, and a pass rewrites only the shards it added to;
* the index is a cache of the warehouse, never the truth: `open_index` compares its high-water
  mark and item count with `article_embeddings` and adds what is missing (a pass killed between
  its commit and the index save), or rebuilds it when it is missing, corrupt, for another model
  or holds rows the warehouse does not (a restored backup);
* saves are atomic: new shard files under fresh names, then the manifest renamed over the old
  one, then unreferenced files removed, so a kill at any point leaves a readable index.

It lives in `enrich/` beside `dedupe`: it is the stories stage's working set, derived from and
rebuildable out of the warehouse; its SQL stays in `warehouse/read.py` (through `store`), and the
connection comes in as a parameter. Signatures (`story_signature`) are computed once per article
and stored with its embedding as plain JSON; `signature_of`/`signature_json`/`signature_from_json`
adapt both forms `enrich.dedupe` has had (a tuple of frozensets, or JSON with a version `v`), and
a stored signature of another form or version is recomputed once and stored over.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import inspect
import json
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from banwatch.enrich.blas import one_thread

logger = logging.getLogger(__name__)

FORMAT = 3  # 2: the f32 vectors file beside the shards; 3: followers (format 2 still loads)
SHARD_DAYS = 7  # a 3-day window (6 days wide) touches at most two weekly shards
CONNECTIVITY, EXPANSION_ADD, EXPANSION_SEARCH = 16, 128, 128  # ef 64 missed 3 % at 100k
DTYPE = "i8"  # a quarter of f32's bytes: the graph only finds candidates, re-ranked exactly
# A near copy (cos >= FOLLOW_WITHIN of an indexed item of its shard, within FOLLOW_SECONDS of
# it) is not put in the graph: it follows that item and is returned with it. Clusters of near
# copies are what trapped the HNSW search at 1M (recall@1 0.89); one item per cluster keeps the
# graph small and navigable. At most MAX_FOLLOWERS per item, so one hit never drags in hundreds.
FOLLOW_WITHIN, FOLLOW_SECONDS, MAX_FOLLOWERS = 0.7, 86400.0, 32
CHUNK = 1024  # rows decided per step when adding: each sees the ones indexed before it
FOLLOW_EXPANSION = 32  # search breadth when looking for an item to follow: a miss only indexes
MANIFEST = "manifest.json"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ---------------------------------------------------------------- signatures


def _dedupe() -> Any:
    # at call time: dedupe imports the detector's catalogues
    import banwatch.enrich.dedupe as dedupe

    return dedupe


def signature_of(title: str, text: str, language: str | None = None) -> Any:
    """`story_signature` of an article, whichever parameters it takes."""
    fn = _dedupe().story_signature
    if "language" in inspect.signature(fn).parameters:
        return fn(title, text, language=language)
    return fn(title, text)


def signature_json(signature: Any) -> str:
    """A signature as the plain JSON stored in `article_embeddings.signature`."""
    dedupe = _dedupe()
    if hasattr(dedupe, "signature_to_json"):
        value = dedupe.signature_to_json(signature)
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return json.dumps([sorted(part) for part in signature])


def signature_from_json(text: str | None) -> Any | None:
    """The signature stored as `text`; None when absent or written by another signature form or
    version (then it is computed again and stored over)."""
    if not text:
        return None
    dedupe = _dedupe()
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if hasattr(dedupe, "signature_from_json"):
        version = getattr(dedupe, "SIGNATURE_VERSION", None)
        if not isinstance(value, dict) or value.get("v") != version:
            return None
        return dedupe.signature_from_json(value)  # parsed once: it takes the dict as it is
    if not (isinstance(value, list) and len(value) == 2):
        return None
    return tuple(frozenset(part) for part in value)


# ---------------------------------------------------------------- the index


def seconds(when: dt.datetime | None, fallback: dt.datetime) -> float:
    return ((when or fallback) - _EPOCH).total_seconds()


def index_dir(warehouse_path: str | os.PathLike[str], model: str) -> Path:
    """`<warehouse>.stories.<model hash>`: one index directory per embedding model."""
    digest = hashlib.sha1(model.encode()).hexdigest()[:12]
    return Path(f"{warehouse_path}.stories.{digest}")


def _new_index(dim: int) -> Any:
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype=DTYPE,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def _matches(matches: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """usearch results as 2-d keys and distances with per-row counts (one query comes back
    as a single, trimmed `Matches`)."""
    if hasattr(matches, "counts"):
        return matches.keys, matches.distances, matches.counts
    return matches.keys[None, :], matches.distances[None, :], np.array([len(matches.keys)])


@dataclass
class _Shard:
    index: Any  # usearch Index (a read-only memory map until something is added)
    keys: np.ndarray  # int64 seqs in the graph, ascending (items are added in seq order)
    times: np.ndarray  # float64 epoch seconds, aligned with keys
    file: str | None = None  # base name of its saved files; None once changed
    view: bool = False
    # Near copies left out of the graph: their seqs (ascending), the graph item each follows
    # and their times. `taken[i]`: followers of keys[i].
    followers: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    leaders: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    follower_times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    taken: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    def time_of(self, keys: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(self.keys, keys), 0, max(len(self.keys) - 1, 0))
        return self.times[pos] if len(self.keys) else np.zeros(len(keys))

    @property
    def size(self) -> int:
        return len(self.keys) + len(self.followers)

    def add(self, seqs: np.ndarray, times: np.ndarray, matrix: np.ndarray) -> None:
        """Add items (seqs ascending), `CHUNK` rows at a time: near copies become followers."""
        for lo in range(0, len(seqs), CHUNK):
            rows = slice(lo, lo + CHUNK)
            lead = self._leaders(seqs[rows], times[rows], matrix[rows])
            own = lead < 0
            if own.any():
                self.index.add(seqs[rows][own].astype(np.uint64), matrix[rows][own], threads=0)
                self.keys = np.concatenate([self.keys, seqs[rows][own]])
                self.times = np.concatenate([self.times, times[rows][own]])
                self.taken = np.concatenate([self.taken, np.zeros(int(own.sum()), np.int64)])
            if (~own).any():
                np.add.at(self.taken, np.searchsorted(self.keys, lead[~own]), 1)
                self.followers = np.concatenate([self.followers, seqs[rows][~own]])
                self.leaders = np.concatenate([self.leaders, lead[~own]])
                self.follower_times = np.concatenate([self.follower_times, times[rows][~own]])
        self.file = None

    def _leaders(self, seqs: np.ndarray, times: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """The graph item each row follows (-1: none), among those indexed before the chunk
        (nearest of the graph's 4 nearest that qualifies) or earlier rows of the chunk."""
        lead = np.full(len(seqs), -1, np.int64)
        if FOLLOW_WITHIN >= 1:
            return lead
        if len(self.keys):
            breadth, self.index.expansion_search = self.index.expansion_search, FOLLOW_EXPANSION
            try:
                keys, dist, counts = _matches(self.index.search(matrix, 4, threads=1))
            finally:
                self.index.expansion_search = breadth
            keys = keys.astype(np.int64)
            pos = np.clip(np.searchsorted(self.keys, keys), 0, len(self.keys) - 1)
            ok = (
                (np.arange(keys.shape[1])[None, :] < np.asarray(counts)[:, None])
                & (1 - dist >= FOLLOW_WITHIN)
                & (np.abs(self.times[pos] - times[:, None]) <= FOLLOW_SECONDS)
                & (self.taken[pos] < MAX_FOLLOWERS)
            )
            first = np.argmax(ok, axis=1)
            found = ok[np.arange(len(seqs)), first]
            lead[found] = keys[found, first[found]]
        rest = np.flatnonzero(lead < 0)
        sims = matrix[rest] @ matrix[rest].T
        near = (sims >= FOLLOW_WITHIN) & (
            np.abs(times[rest][:, None] - times[rest][None, :]) <= FOLLOW_SECONDS
        )
        own = np.zeros(len(rest), bool)
        taken = np.zeros(len(rest), np.int64)
        for j in range(len(rest)):
            cand = np.flatnonzero(near[j, :j] & own[:j] & (taken[:j] < MAX_FOLLOWERS))
            if len(cand):
                best = cand[np.argmax(sims[j, cand])]
                lead[rest[j]], taken[best] = seqs[rest[best]], taken[best] + 1
            else:
                own[j] = True
        return lead


@dataclass
class _WindowSearch:
    """One search of a batch of queries over the shards their windows overlap: each query
    collects (keys, distances) from every shard, nearest `k` kept at the end."""

    matrix: np.ndarray
    times: Sequence[float]
    window: float  # seconds either side of a query's time
    k: int
    found: list[list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.found = [[] for _ in range(len(self.matrix))]

    def in_shard(self, shard: _Shard, queries: list[int]) -> None:
        """Search one shard, widening for the queries that got fewer than `k` in their window."""
        size = len(shard.keys)
        count = min(size, 2 * self.k)  # a shard spans a week: some hits fall outside the window
        while queries:
            # Asked for every item, the graph search may still miss some (HNSW is approximate,
            # and a graph built on several threads differs from build to build): scan the
            # shard instead, so a window that fits in `k` gives exactly the brute-force rows.
            # All queries in one call: usearch searches the matrix in one go.
            every = count >= size
            matches = shard.index.search(self.matrix[queries], count, threads=1, exact=every)
            all_keys, all_dist, counts = _matches(matches)
            short = []
            for row, i in enumerate(queries):
                n = int(counts[row])
                keys = all_keys[row, :n].astype(np.int64)
                dist = all_dist[row, :n]
                ok = np.abs(shard.time_of(keys) - self.times[i]) <= self.window
                if ok.sum() < self.k and count < size:
                    short.append(i)  # search this one again, wider
                else:
                    self.found[i].append((keys[ok], dist[ok]))
            queries, count = short, min(size, count * 4)

    def nearest(self) -> list[np.ndarray]:
        """Each query's up to `k` nearest seqs over every shard searched."""
        result = []
        for parts in self.found:
            if not parts:
                result.append(np.zeros(0, np.int64))
                continue
            keys = np.concatenate([p[0] for p in parts])
            dist = np.concatenate([p[1] for p in parts])
            result.append(keys[np.argsort(dist, kind="stable")[: self.k]])
        return result


@dataclass
class StoryIndex:
    """One model's stored embeddings, searchable by similarity within a time window."""

    path: Path
    model: str
    dim: int
    hwm: int = 0  # largest seq added
    count: int = 0
    shards: dict[int, _Shard] = field(default_factory=dict)
    changed: bool = False
    # Every item's exact f32 vector, row i = the i-th smallest seq (items come in seq order), in
    # one append-only file: the stories step re-ranks on these instead of reading the embedding
    # column back from DuckDB (8 core-ms per new article at 100k). The manifest names the file
    # and how many rows are saved; rows past that (a killed pass) are cut off before appending.
    vectors_file: str | None = None
    saved_rows: int = 0
    written: int = 0
    _map: np.ndarray | None = field(default=None, repr=False)
    _seqs: np.ndarray | None = field(default=None, repr=False)  # every seq, ascending
    _times: np.ndarray | None = field(default=None, repr=False)  # aligned with _seqs
    _lead: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    # ---- building

    def add(self, seqs: np.ndarray, times: np.ndarray, matrix: np.ndarray) -> None:
        """Add items (seqs ascending and above `hwm`), each to the shard of its week."""
        if not len(seqs):
            return
        if matrix.shape[1] != self.dim:
            raise ValueError(f"index holds {self.dim}-d vectors, got {matrix.shape[1]}-d")
        weeks = np.floor(times / (SHARD_DAYS * 86400.0)).astype(np.int64)
        for week in np.unique(weeks):
            rows = weeks == week
            shard = self.shards.get(int(week))
            if shard is None:
                shard = self.shards[int(week)] = _Shard(
                    _new_index(self.dim), np.zeros(0, np.int64), np.zeros(0)
                )
            elif shard.view:  # a memory-mapped shard is immutable: load it to add to it
                from usearch.index import Index

                shard.index = Index.restore(self.path / f"{shard.file}.usearch")
                shard.view = False
            with one_thread():  # the near-copy products (the graph adds on its own threads)
                shard.add(seqs[rows], times[rows], matrix[rows])
        self._append_vectors(matrix)
        self.hwm = max(self.hwm, int(seqs.max()))
        self.count += len(seqs)
        self.changed = True

    def clear(self) -> None:
        self.shards, self.hwm, self.count, self.changed = {}, 0, 0, True
        self.vectors_file, self.saved_rows, self.written = None, 0, 0
        self._map = self._seqs = self._times = self._lead = None

    def _append_vectors(self, matrix: np.ndarray) -> None:
        """Write rows to the vectors file now (not at save: a rebuild would hold them all)."""
        self.path.mkdir(parents=True, exist_ok=True)
        if self.vectors_file is None:
            self.vectors_file = f"vectors-{secrets.token_hex(4)}.f32"
        with open(self.path / self.vectors_file, "ab") as f:
            if self.written == self.saved_rows:  # first append since the save: drop leftovers
                f.truncate(self.saved_rows * self.dim * 4)
            f.write(np.ascontiguousarray(matrix, dtype=np.float32).tobytes())
        self.written += len(matrix)
        self._map = self._seqs = self._times = self._lead = None

    def sync(self, con: Any) -> int:
        """Make the index hold exactly the warehouse's rows: add the missing ones (seq above
        the high-water mark) or, when its rows disagree with the warehouse, rebuild. Returns
        the number of items added."""
        from banwatch.warehouse import store

        below, _, total = store.embedding_watermark(con, self.model, self.hwm)
        if below != self.count:
            logger.warning(
                "stories index %s holds %d items up to seq %d, the warehouse %d: rebuilding",
                self.path,
                self.count,
                self.hwm,
                below,
            )
            self.clear()
        added = 0
        for seqs, times, matrix in store.embeddings_after(con, self.model, self.hwm):
            self.add(seqs, times, matrix)
            added += len(seqs)
        if added:
            logger.info("stories index: %d items added (%d stored)", added, total)
        return added

    # ---- searching

    def search(
        self,
        matrix: np.ndarray,
        times: Sequence[float],
        window_days: float,
        k: int,
    ) -> list[np.ndarray]:
        """The seqs of up to `k` most similar items within `window_days` of each query's time,
        most similar first.

        Each query searches the shards its own window (widened by `FOLLOW_SECONDS`, so that a
        follower in the window is found through its leader) overlaps; items found outside it
        are dropped and the search widened until `k` remain or the shard is exhausted. The
        graph's hits and their followers are then ranked on the exact f32 vectors.
        """
        window = window_days * 86400.0
        search = _WindowSearch(matrix, times, window + FOLLOW_SECONDS, k)
        week = SHARD_DAYS * 86400.0
        for number, shard in self.shards.items():
            lo, hi = number * week - search.window, (number + 1) * week + search.window
            queries = [i for i, t in enumerate(times) if lo <= t < hi]
            if queries and len(shard.keys):
                search.in_shard(shard, queries)
        with one_thread():
            return self._rerank(matrix, times, window, search.nearest(), k)

    def _rerank(
        self, matrix: np.ndarray, times: Sequence[float], window: float, hits: list, k: int
    ) -> list[np.ndarray]:
        """Each query's hits with their followers, in its window, nearest `k` by exact cosine
        (in the graph's order, followers after, when a vector is missing). One pass over the
        whole batch: a Python loop per query cost more than the graph search."""
        if not hits:
            return []
        self._caches()
        assert self._seqs is not None and self._times is not None and self._lead is not None
        leaders, followers = self._lead
        query = np.repeat(np.arange(len(hits)), [len(h) for h in hits])
        found = np.concatenate([np.zeros(0, np.int64), *hits]).astype(np.int64)
        lo = np.searchsorted(leaders, found)
        many = np.searchsorted(leaders, found, "right") - lo
        starts = np.repeat(lo - np.cumsum(many) + many, many)
        more = followers[np.arange(int(many.sum())) + starts]
        query = np.concatenate([query, np.repeat(query, many)])
        seqs = np.concatenate([found, more])
        at = np.asarray(times, np.float64)
        inside = np.abs(self._times[np.searchsorted(self._seqs, seqs)] - at[query]) <= window
        order = np.argsort(query[inside], kind="stable")  # by query, the graph's order within
        query, seqs = query[inside][order], seqs[inside][order]
        bounds = np.searchsorted(query, np.arange(len(hits) + 1))
        vectors = self.vectors(seqs)  # one read, in the order used (no copy per query)
        result = []
        for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
            if vectors is None:
                result.append(seqs[a:b])
            else:
                sims = vectors[a:b] @ matrix[i]
                result.append(seqs[a:b][np.argsort(-sims, kind="stable")[:k]])
        return result

    def _caches(self) -> None:
        """Every seq with its time, and followers by leader: built once after a change."""
        if self._seqs is None or self._times is None:
            seqs = np.concatenate(
                [np.zeros(0, np.int64)]
                + [a for s in self.shards.values() for a in (s.keys, s.followers)]
            )
            times = np.concatenate(
                [np.zeros(0)]
                + [a for s in self.shards.values() for a in (s.times, s.follower_times)]
            )
            order = np.argsort(seqs, kind="stable")
            self._seqs, self._times = seqs[order].astype(np.int64), times[order]
        if self._lead is None:
            leaders = np.concatenate(
                [np.zeros(0, np.int64)] + [s.leaders for s in self.shards.values()]
            )
            followers = np.concatenate(
                [np.zeros(0, np.int64)] + [s.followers for s in self.shards.values()]
            )
            order = np.argsort(leaders, kind="stable")
            self._lead = leaders[order], followers[order]

    def first_seq(self, since: float) -> int:
        """The smallest seq of an item timed at or after `since` (epoch seconds; a second's
        margin for the timestamps' rounding), past the high-water mark when none is. Items
        are loaded in time order mostly, so the rows of a window all lie above it: a read
        bounded by it skips the older row groups of the warehouse (zone maps)."""
        self._caches()
        assert self._seqs is not None and self._times is not None
        later = np.flatnonzero(self._times >= since - 1.0)
        return int(self._seqs[later[0]]) if len(later) else self.hwm + 1

    def vectors(self, seqs: np.ndarray) -> np.ndarray | None:
        """The exact stored vectors of `seqs` (float32, in that order) from the vectors file;
        None when one is not in the index."""
        seqs = np.asarray(seqs, np.int64)
        if not len(seqs):
            return np.zeros((0, self.dim), np.float32)
        self._caches()
        assert self._seqs is not None
        if self.vectors_file is None or len(self._seqs) != self.written:
            return None
        rows = np.clip(np.searchsorted(self._seqs, seqs), 0, max(len(self._seqs) - 1, 0))
        if not len(self._seqs) or not np.array_equal(self._seqs[rows], seqs):
            return None
        if self._map is None:
            self._map = np.memmap(
                self.path / self.vectors_file, np.float32, "r", shape=(self.written, self.dim)
            )
        return np.array(self._map[rows])

    # ---- persistence

    def save(self) -> None:
        """Write changed shards under new names, then the manifest atomically, then tidy up."""
        if not self.changed:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(4)
        for number, shard in self.shards.items():
            if shard.file is not None:
                continue
            base = f"shard-{number}-{self.hwm}-{token}"
            shard.index.save(str(self.path / f"{base}.usearch"))
            _fsync(self.path / f"{base}.usearch")
            with open(self.path / f"{base}.npy", "wb") as f:
                np.save(f, np.stack([shard.keys.astype(np.float64), shard.times]))
                f.flush()
                os.fsync(f.fileno())
            with open(self.path / f"{base}.follow.npy", "wb") as f:
                np.save(f, np.stack([shard.followers, shard.leaders, shard.follower_times]))
                f.flush()
                os.fsync(f.fileno())
            shard.file = base
        manifest = {
            "format": FORMAT,
            "model": self.model,
            "dim": self.dim,
            "dtype": DTYPE,
            "shard_days": SHARD_DAYS,
            "hwm": self.hwm,
            "count": self.count,
            "vectors": {"file": self.vectors_file, "rows": self.written},
            "shards": {
                str(n): {"file": s.file, "count": len(s.keys), "followers": len(s.followers)}
                for n, s in self.shards.items()
            },
        }
        tmp = self.path / f".{MANIFEST}.{token}.tmp"
        with open(tmp, "w") as f:
            json.dump(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        if self.vectors_file is not None:
            _fsync(self.path / self.vectors_file)
        os.replace(tmp, self.path / MANIFEST)
        self.saved_rows = self.written
        keep = {
            f"{s.file}.{ext}"
            for s in self.shards.values()
            for ext in ("usearch", "npy", "follow.npy")
        }
        keep.add(str(self.vectors_file))
        for path in self.path.iterdir():  # earlier shard versions; temp files of killed saves
            if path.name != MANIFEST and path.name not in keep:
                path.unlink(missing_ok=True)
        self.changed = False
        logger.info("stories index saved: %d items, %d shards", self.count, len(self.shards))

    @classmethod
    def load(cls, path: Path, model: str, dim: int | None) -> StoryIndex | None:
        """The saved index, or None when it is missing, unreadable or for another model/dim."""
        from usearch.index import Index

        try:
            manifest = json.loads((path / MANIFEST).read_text())
            if (
                manifest.get("format") not in (2, FORMAT)
                or manifest.get("model") != model
                or manifest.get("shard_days") != SHARD_DAYS
                or (dim is not None and manifest.get("dim") != dim)
            ):
                logger.warning("stories index %s is for another model or format", path)
                return None
            index = cls(path, model, int(manifest["dim"]), int(manifest["hwm"]))
            for number, entry in manifest["shards"].items():
                index.shards[int(number)] = _load_shard(path, entry, Index)
            index.count = sum(s.size for s in index.shards.values())
            if index.count != manifest["count"]:
                raise ValueError("item count does not match the manifest")
            vectors = manifest["vectors"]
            if index.count and (
                vectors["rows"] != index.count
                or (path / vectors["file"]).stat().st_size < index.count * index.dim * 4
            ):
                raise ValueError("the vectors file does not match the manifest")
            index.vectors_file = vectors["file"]
            index.saved_rows = index.written = int(vectors["rows"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            logger.warning("stories index %s unreadable (%s): rebuilding", path, exc)
            return None
        return index


def _load_shard(path: Path, entry: dict[str, Any], index_class: Any) -> _Shard:
    """One saved shard, its graph memory-mapped; ValueError when it disagrees with `entry`."""
    base = path / entry["file"]
    keys, times = np.load(f"{base}.npy")
    view = index_class.restore(f"{base}.usearch", view=True)
    if view is None or len(view) != entry["count"] or len(keys) != entry["count"]:
        raise ValueError(f"shard {entry['file']} does not match the manifest")
    shard = _Shard(view, keys.astype(np.int64), times, entry["file"], True)
    if entry.get("followers"):  # format 2 had none
        followers, leaders, follower_times = np.load(f"{base}.follow.npy")
        if len(followers) != entry["followers"]:
            raise ValueError(f"followers of {entry['file']} do not match the manifest")
        shard.followers, shard.leaders = followers.astype(np.int64), leaders.astype(np.int64)
        shard.follower_times = follower_times
    pos = np.searchsorted(shard.keys, shard.leaders)
    shard.taken = np.bincount(pos, minlength=len(shard.keys)).astype(np.int64)
    return shard


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def open_index(
    con: Any, warehouse_path: str | os.PathLike[str], model: str, dim: int | None
) -> StoryIndex | None:
    """The stories index of `model`, loaded, brought up to date with the warehouse and saved.

    None when there is nothing to index yet and no dimension to start from.
    """
    path = index_dir(warehouse_path, model)
    index = StoryIndex.load(path, model, dim)
    if index is None:
        if dim is None:
            dim = _stored_dim(con, model)
            if dim is None:
                return None
        index = StoryIndex(path, model, dim, changed=True)
    index.sync(con)
    index.save()
    return index


def _stored_dim(con: Any, model: str) -> int | None:
    from banwatch.warehouse import store

    return store.embedding_dim(con, model)


# ---------------------------------------------------------------- what the stories step reads


def stored_articles(
    con: Any,
    *,
    model: str,
    matrix: np.ndarray,
    published: Sequence[dt.datetime | None],
    now: dt.datetime,
    window_days: float,
    neighbours: int,
    warehouse_path: str | os.PathLike[str] | None,
) -> tuple[Any, dict[str, int]]:
    """The `StoredArticles` the new articles (`matrix`, `published`) may join, and counts.

    With `warehouse_path`, the `neighbours` nearest stored articles of each new one within its
    own window (from the index, `neighbourhood`), their vectors from the index's vectors file,
    and their stories' veto sets aggregated by the warehouse over the stories' members in the
    batch's window (`read_hits`); without, every stored article since the earliest new one's
    window opens (brute force, as before the index). Signatures come from the warehouse; those
    missing (rows stored before they were kept) or written by another signature form are
    computed once and stored.
    """
    times = [seconds(p, now) for p in published]
    since, until = batch_window(times, window_days)
    if warehouse_path is not None:
        index = open_index(con, warehouse_path, model, matrix.shape[1])
        hits = neighbourhood(index, matrix, times, window_days, neighbours)
        return read_hits(con, model, index, hits, since=since, until=until, dim=matrix.shape[1])
    from banwatch.enrich.dedupe import StoredArticles
    from banwatch.warehouse import store

    rows = store.window_embeddings(con, since, model)
    ids = rows["article_id"]
    counts = {"stored_candidates": len(ids), "signatures_computed": 0}
    if not ids:
        return StoredArticles.empty(matrix.shape[1]), counts
    signatures = [signature_from_json(s) for s in rows["signature"]]
    missing = [(i, lang) for i, s, lang in zip(ids, signatures, rows["language"], strict=True)
               if s is None]  # fmt: skip
    fresh = _sign_again(con, model, missing)
    signatures = [fresh.get(i, s) for i, s in zip(ids, signatures, strict=True)]
    counts["signatures_computed"] = len(fresh)
    stored = StoredArticles(
        ids, rows["story_id"], rows["published_at"], rows["embedding"], signatures
    )
    return stored, counts


def batch_window(times: Sequence[float], window_days: float) -> tuple[dt.datetime, dt.datetime]:
    """From the earliest new article's window opening to the latest one's closing."""
    window = dt.timedelta(days=window_days)
    first, last = (_EPOCH + dt.timedelta(seconds=t) for t in (min(times), max(times)))
    return first - window, last + window


def neighbourhood(
    index: StoryIndex | None,
    matrix: np.ndarray,
    times: Sequence[float],
    window_days: float,
    neighbours: int,
) -> list[np.ndarray]:
    """Each new article's `neighbours` nearest stored seqs within its own window."""
    return index.search(matrix, times, window_days, neighbours) if index else []


def read_hits(
    con: Any,
    model: str,
    index: StoryIndex | None,
    hits: list[np.ndarray],
    *,
    since: dt.datetime,
    until: dt.datetime,
    dim: int,
) -> tuple[Any, dict[str, int]]:
    """The `StoredArticles` of the index's `hits`: their rows (vectors from the index), each new
    article's own reach, and their stories' veto sets aggregated by the warehouse over the
    members published between `since` and `until` (`store.story_vetoes`).

    Only the hits' rows come back to Python: reading every member's row and parsing its
    signature to build the same union cost more than the rest of the step at 1M stored. The
    hits' signatures are parsed only when the decision looks at them.
    """
    from banwatch.enrich.dedupe import StoredArticles
    from banwatch.warehouse import store

    seqs = np.unique(np.concatenate(hits)) if hits else np.zeros(0, np.int64)
    rows = store.hit_articles(con, model, seqs)
    vectors = index.vectors(np.array(rows["seq"], np.int64)) if index else None
    if vectors is None:  # a row the index lacks (it was just synced: not expected)
        rows = store.hit_articles(con, model, seqs, vectors=True)
    else:
        rows["embedding"] = vectors
    ids = rows["article_id"]
    counts = {"stored_candidates": len(ids), "signatures_computed": 0}
    if not ids:
        return StoredArticles.empty(dim), counts
    version = getattr(_dedupe(), "SIGNATURE_VERSION", None)
    # Every member read is timed inside the window (the hits too: the search keeps only those),
    # so none lies below the window's first seq; the bound spares scanning older rows.
    first = min(index.first_seq(seconds(since, since)), int(seqs.min())) if index else 0
    window = {"since": since, "until": until, "version": version, "first_seq": first}
    vetoes, stale = store.story_vetoes(con, model, rows["story_id"], ids, **window)
    fresh = _sign_again(con, model, stale)
    if fresh:  # the sets left those members out: ask again, with them stored
        vetoes, _ = store.story_vetoes(con, model, rows["story_id"], ids, **window)
    counts["signatures_computed"] = len(fresh)
    signatures = _Signatures(
        [fresh.get(i, text) for i, text in zip(ids, rows["signature"], strict=True)]
    )
    stored = StoredArticles(
        ids,
        rows["story_id"],
        rows["published_at"],
        rows["embedding"],
        signatures,
        reach_of(hits, rows["seq"]) if len(hits) else None,
        {sid: _veto_signature(sets) for sid, sets in vetoes.items()},
    )
    return stored, counts


def _sign_again(con: Any, model: str, missing: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """Signatures of `missing` (article_id, language), computed from their leads and stored."""
    if not missing:
        return {}
    from banwatch.warehouse import store

    leads = store.article_leads(con, [i for i, _ in missing])
    fresh = {i: signature_of(*leads.get(i, ("", "")), lang) for i, lang in missing}
    store.store_signatures(con, model, {i: signature_json(s) for i, s in fresh.items()})
    return fresh


def _veto_signature(parts: list[str]) -> Any:
    """A story's veto sets from the distinct veto parts of its members' signatures
    (`store.story_vetoes`): each part read by `Signature.of`, folded as the decision folds the
    members themselves (`dedupe._union`; no title words, no language)."""
    return _dedupe()._union(map(_veto_part, parts))


@functools.lru_cache(maxsize=65_536)
def _veto_part(text: str) -> Any:
    """One member's veto parts, a JSON array of the values at `store.VETO_PATHS`, as the
    `Signature` of those fields (the same few recur across stories: parsed once)."""
    from banwatch.enrich.dedupe import Signature
    from banwatch.warehouse.read import VETO_PATHS

    keys = [path.removeprefix("$.") for path in VETO_PATHS]
    # a path the stored JSON lacks reads as null: left out, so `Signature.of` applies its default
    values = zip(keys, json.loads(text), strict=True)
    return Signature.of({key: value for key, value in values if value is not None})


class _Signatures(Sequence[Any]):
    """Stored signatures of the hits, each parsed from its JSON text when first asked for: the
    decision looks at a few candidates of each new article, not at every hit."""

    def __init__(self, values: list[Any]) -> None:
        self._values = values  # JSON text, or a signature computed again

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, j: Any) -> Any:  # type: ignore[override]
        if isinstance(j, slice):
            return [self[k] for k in range(*j.indices(len(self)))]
        value = self._values[j]
        if isinstance(value, str):
            value = self._values[j] = json.loads(value)
        return value


def reach_of(hits: Sequence[np.ndarray], seqs: Sequence[int]) -> list[np.ndarray]:
    """For each new article, the rows (of `seqs`) it may join: its own hits, the nearest stored
    articles in its window. Their stories' other members are read too, but only for the
    stories' vetoes: the most similar acceptable article is among the nearest (on the labelled
    sets, replayed through 5-20 neighbours, members beyond them never changed a story:
    `python -m bench.eval_neighbours --dense --hits-only`), and comparing with every member of
    every hit's story made the decision cost grow with story sizes."""
    row_of = {int(q): j for j, q in enumerate(seqs)}
    return [
        np.array(sorted({row_of[int(q)] for q in found if int(q) in row_of}), dtype=np.int64)
        for found in hits
    ]
