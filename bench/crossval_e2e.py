"""Cross-validated detection quality END TO END: each fold's articles served on 127.0.0.1 and run
through `banwatch run --replay` with a model fitted on the other folds only.

    python -m bench.crossval_e2e                    # 5 folds x every labelled set (~35 min)
    python -m bench.crossval_e2e --folds 5 --threshold 0.88 --sets devset,holdout

Folds are grouped by situation exactly as `bench/crossval.py` (an article's group is its gold
situation, else its first candidate's); an event article with no candidate goes with its
event's situation, a look-alike with none to a fold by a hash of its id. Per fold and set,
`bench.eval_events.score_e2e` serves that fold's articles of the set (phase 1, then phase 2),
scores the DuckDB file and the emails received; the figures here are the sums over folds.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
from collections import defaultdict
from pathlib import Path

from banwatch.enrich.detect.features import feature_matrix
from banwatch.enrich.detect.training import _folds, build, fit, situation_of

from bench.crossval import load_all
from bench.eval_events import score_e2e
from bench.labelled import set_dirs
from bench.scoring import NEGATIVE_LABELS, load_gold

logger = logging.getLogger(__name__)


def article_folds(data, rows, gold, folds: int, seed: int) -> dict[str, int]:
    """Fold of every labelled article id: the fold of its situation's group. An event article
    with no candidate goes with its event's situation too (so an event is scored in one fold
    only); a look-alike with none goes to a fold by a hash of its id."""
    import numpy as np

    groups = {}
    for (i, _j), g in zip(data.batch.where, data.groups, strict=True):
        groups.setdefault(data.items[i].article_id, g)
    ids = sorted(groups)
    fold_of, group_fold = {}, {}
    for k, (_train, test) in enumerate(_folds(np.array([groups[a] for a in ids]), folds, seed)):
        for t in test:
            fold_of[ids[t]] = k
            group_fold[groups[ids[t]]] = k
    for r in rows:
        if r["item_id"] in fold_of:
            continue
        g = gold.get(r.get("event_id", ""))
        key = situation_of(g["country"], g["subdivision"], g["app"]) if g else r["item_id"]
        fold_of[r["item_id"]] = group_fold.get(
            key, int(hashlib.sha1(key.encode()).hexdigest(), 16) % folds
        )
    return fold_of


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threshold", type=float, default=None, help="alerts.min_confidence")
    ap.add_argument("--sets", default="", help="comma-separated set names (default: all)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    rows, gold, _events = load_all()
    data = build(rows, gold)
    fold_of = article_folds(data, rows, gold, args.folds, args.seed)
    x = feature_matrix(data.batch.named, data.names)
    cand_fold = [fold_of[data.items[i].article_id] for i, _j in data.batch.where]
    dirs = {k: v for k, v in set_dirs().items() if not args.sets or k in args.sets.split(",")}
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.folds):
            train = [r for r, f in enumerate(cand_fold) if f != k]
            model = fit(x[train], data.y[train], data.groups[train], data.names, seed=args.seed)
            path = Path(tmp) / f"fold{k}.json"
            model.save(path)
            for name, d in dirs.items():
                set_gold, set_rows = load_gold(d)
                fold_rows = [r for r in set_rows if fold_of.get(r["item_id"]) == k]
                if not fold_rows:
                    continue
                ev = score_e2e(
                    fold_rows, set_gold, model_path=str(path),
                    alerts_min_confidence=args.threshold,
                )  # fmt: skip
                s = sums[name]
                for tag, rep in (("all", ev.all), ("emailed", ev.alerted)):
                    s[f"{tag}_tp"] += rep.tp
                    s[f"{tag}_fp"] += rep.fp
                    s[f"{tag}_fn"] += rep.fn
                for f, acc in ev.all.field_accuracy.items():
                    s[f"acc_{f}"] += acc * ev.all.field_support
                s["support"] += ev.all.field_support
                s["once"] += sum(1 for _g, p in ev.all.matches if p.emails == 1)
                s["gold"] += ev.gold
                s["stray"] += sum(p.emails for p in ev.all.false_alarms)
                s["neg_articles"] += sum(1 for r in fold_rows if r["label"] in NEGATIVE_LABELS)
                for lang, (hit, tot) in ev.all.recall_by_language.items():
                    s[f"lang_{lang}_hit"] += hit
                    s[f"lang_{lang}_tot"] += tot
                print(f"fold {k + 1}/{args.folds} {name}: {len(fold_rows)} articles, "
                      f"all tp {ev.all.tp} fp {ev.all.fp} fn {ev.all.fn}; emailed tp "
                      f"{ev.alerted.tp} fp {ev.alerted.fp}", flush=True)  # fmt: skip
    print("\n| set | all events P / R / F1 | emailed P / R / F1 | fields c/s/a/scope/action/date "
          "| gold emailed once | emails for non-events |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    pooled: dict[str, float] = defaultdict(float)
    for s in sums.values():
        for key, v in s.items():
            pooled[key] += v
    for name, s in [*sums.items(), ("pooled", pooled)]:
        cells = []
        for tag in ("all", "emailed"):
            tp, fp, fn = s[f"{tag}_tp"], s[f"{tag}_fp"], s[f"{tag}_fn"]
            p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
            cells.append(f"{p:.3f} / {r:.3f} / {2 * p * r / max(p + r, 1e-9):.3f}")
        keys = ("country", "subdivision", "app", "scope", "action", "announced_on")
        fields = " / ".join(f"{s[f'acc_{k}'] / max(s['support'], 1):.2f}" for k in keys)
        print(f"| {name} | {cells[0]} | {cells[1]} | {fields} | {int(s['once'])}/{int(s['gold'])}"
              f" | {int(s['stray'])} |")  # fmt: skip
    langs = sorted({k[5:-4] for k in pooled if k.startswith("lang_") and k.endswith("_tot")})
    print("recall per language (all events): " + ", ".join(
        f"{lang} {int(pooled[f'lang_{lang}_hit'])}/{int(pooled[f'lang_{lang}_tot'])}"
        for lang in langs))  # fmt: skip


if __name__ == "__main__":
    main()
