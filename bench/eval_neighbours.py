"""Does grouping through the stories index's `k` nearest neighbours lose joins?

    python -m bench.eval_neighbours                 # k = 3, 5, 10, 20 on every labelled set
    python -m bench.eval_neighbours --k 5 20 --sets devset,holdout

The pipeline never compares a new article with the whole window: it reads the article's `k`
nearest stored articles in its window and the other members of their stories, and decides on
those alone (`StoredArticles.reach`). This replays each labelled set article by article in
publication order, as passes of one article would see it: the earlier articles are stored with
the stories they were given, and each new one is decided by the real `dedupe_stories` (shipped
rules and pair model) over

* *all*: every earlier article in the window (what a pass without the index decides), and
* *k*: its `k` nearest earlier articles in the window by exact cosine (the index ranks its hits
  exactly) and the other in-window members of their stories.

`--dense` squeezes each set into one window (publication order kept, times spread over 0.99 of
`--window-days`): every article is then a candidate of every other, the crowded window of a busy
news day (hundreds of articles, many on one app) that the sparse sets never reach. Gold pairs are
then every pair of one event.

Printed per set: pair precision / recall / F1 against the gold (pairs of one event within the
window, as `bench.eval_dedupe`), and how many articles got another story than with *all*. The
pair model was fitted on these sets, so the F1 columns are training scores; what this bench
measures is the *difference* between k and all, which the fit does not favour.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from banwatch.enrich.dedupe import (  # noqa: E402
    JoinRule,
    NewArticles,
    StoredArticles,
    dedupe_stories,
)

from bench.eval_dedupe import (  # noqa: E402
    DEFAULT_INPUT,
    INPUTS,
    LabelledSet,
    counts,
    embed,
    load_sets,
    prf,
)
from bench.labelled import SET_NAMES  # noqa: E402

ALL = 0  # k = 0: every earlier article in the window


def replay(
    s: LabelledSet, matrix: np.ndarray, k: int, window_days: float, hits_only: bool = False
) -> np.ndarray:
    """Story label of each article, deciding one article at a time against its reach
    (`hits_only`: the k nearest alone, their stories' other members only for the vetoes)."""
    n, window = len(s.rows), window_days * 86400.0
    order = sorted(range(n), key=lambda i: (s.when[i], s.rows[i]["item_id"]))
    story: dict[int, str] = {}
    done: list[int] = []
    for i in order:
        rows = np.array(done, dtype=np.int64)
        near = rows[np.abs(s.when[rows] - s.when[i]) <= window] if len(rows) else rows
        stored_ids = [story[j] for j in near]
        if k == ALL:
            reach = None
        else:
            nearest = near[np.argsort(-(matrix[near] @ matrix[i]), kind="stable")[:k]]
            stories = {story[j] for j in nearest}
            if hits_only:
                reach = [np.flatnonzero(np.isin(near, nearest))]
            else:
                reach = [np.flatnonzero([sid in stories for sid in stored_ids])]
        stored = StoredArticles(
            [s.rows[j]["item_id"] for j in near],
            stored_ids,
            [s.rows[j]["when"] for j in near],
            matrix[near].reshape(len(near), matrix.shape[1]),
            [s.signatures[j] for j in near],
            reach,
        )
        assigned, _ = dedupe_stories(
            NewArticles(
                [s.rows[i]["item_id"]], [s.rows[i]["when"]], matrix[i : i + 1], [s.signatures[i]]
            ),
            stored,
            threshold=JoinRule().threshold,
            window_days=window_days,
            now=s.rows[i]["when"],
        )
        story[i] = assigned[0].story_id
        done.append(i)
    names = {sid: c for c, sid in enumerate(sorted(set(story.values())))}
    return np.array([names[story[i]] for i in range(n)])


def squeeze(s: LabelledSet, window_days: float) -> LabelledSet:
    """The set with every article inside one window, in the same order (`--dense`)."""
    n = len(s.rows)
    order = sorted(range(n), key=lambda i: (s.when[i], s.rows[i]["item_id"]))
    start, step = s.rows[order[0]]["when"], window_days * 86400 * 0.99 / max(n - 1, 1)
    rows = [dict(r) for r in s.rows]
    for rank, i in enumerate(order):
        rows[i]["when"] = start + dt.timedelta(seconds=rank * step)
    when = np.array([r["when"].timestamp() for r in rows])
    events = np.array([r["event_id"] or f"-{i}" for i, r in enumerate(rows)])
    same = (events[:, None] == events[None, :]) & s.pairs
    return dataclasses.replace(s, rows=rows, when=when, same=same)


def _label(k: int) -> str:
    return "all" if k == ALL else f"k={k}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SET_NAMES))
    parser.add_argument("--k", type=int, nargs="+", default=[3, 5, 10, 20])
    parser.add_argument("--window-days", type=float, default=3)
    parser.add_argument("--dense", action="store_true", help="each set inside one window")
    parser.add_argument(
        "--hits-only", action="store_true", help="candidates: the k nearest, not their stories"
    )
    args = parser.parse_args(argv)
    sets = load_sets(args.sets.split(","), args.window_days)
    if args.dense:
        sets = [squeeze(s, args.window_days) for s in sets]
    fn, tokens = INPUTS[DEFAULT_INPUT]
    ks = [ALL, *args.k]
    pooled = {k: np.zeros(3, dtype=int) for k in ks}
    print(
        f"embedded input {DEFAULT_INPUT}; shipped rules and pair model; window {args.window_days} d"
    )
    print(f"{'set':<14} {'reach':>5} {'P':>6} {'R':>6} {'F1':>6}  other story than all")
    for s in sets:
        matrix = embed([fn(r) for r in s.rows], tokens)
        base = None
        for k in ks:
            labels = replay(s, matrix, k, args.window_days, args.hits_only)
            c = counts(s, labels, np.ones_like(s.pairs))
            pooled[k] += c
            p, r, f = prf(c)
            if base is None:
                base, moved = labels, "-"
            else:  # same partition as with all? compare pair by pair
                same = (labels[:, None] == labels[None, :]) == (base[:, None] == base[None, :])
                moved = f"{int((~same.all(axis=1)).sum())}/{len(labels)} articles"
            print(f"{s.name:<14} {_label(k):>5} {p:6.3f} {r:6.3f} {f:6.3f}  {moved}")
    for k in ks:
        p, r, f = prf(pooled[k])
        print(f"{'pooled':<14} {_label(k):>5} {p:6.3f} {r:6.3f} {f:6.3f}")


if __name__ == "__main__":
    main()
