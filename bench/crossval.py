"""Cross-validated quality of the learned detector, grouped by situation, on every labelled set.

    python -m bench.crossval                 # figures per set, calibration table, threshold
    python -m bench.crossval --plot docs/img/reliability.png --details

Every candidate is scored by a model fitted (C and calibration included, `enrich.detect.training
.fit`) on the other folds' situations only; the scored candidates then go through the same
decision (`enrich.detect.decide`) and event resolution (`enrich.novelty`) as a pass, each article
first seen when it was published. Events are scored per set with `bench.scoring` twice: all
events (candidates included) and the emailed ones, whose event confidence clears
`alerts.min_confidence`. The threshold printed is the lowest whose pooled cross-validated
precision of emailed events is >= 0.95: choosing it here makes the emailed figures slightly
optimistic, which the notes say.
"""

from __future__ import annotations

import argparse
import logging
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from banwatch.enrich.apps import default_catalogue
from banwatch.enrich.detect.decide import Batch, decide
from banwatch.enrich.detect.training import Labelled, build, cross_validate

from bench.eval_events import events_from_detections
from bench.labelled import read_set, set_dirs
from bench.scoring import NEGATIVE_LABELS, GoldEvent, PredictedEvent, Report, score

logger = logging.getLogger(__name__)
RECENCY_DAYS = 14
TARGET_PRECISION = 0.95


def load_all() -> tuple[
    list[dict[str, str]], dict[str, dict[str, str]], dict[str, list[GoldEvent]]
]:
    """Rows of every set (tagged with `set`; event ids prefixed by it), gold rows, gold events."""
    import datetime as dt

    rows, gold, events = [], {}, {}
    for name, path in set_dirs().items():
        set_rows, set_gold = read_set(path)
        for r in set_rows:
            r["set"] = name
            r["event_id"] = f"{name}:{r['event_id']}" if r.get("event_id") else ""
        gold.update({f"{name}:{k}": v for k, v in set_gold.items()})
        evs = {}
        for k, g in set_gold.items():
            evs[f"{name}:{k}"] = GoldEvent(
                f"{name}:{k}", g["jurisdiction"], g["country"], g["subdivision"] or None,
                g["app"], g["scope"], g["action"], dt.date.fromisoformat(g["announced_on"]),
            )  # fmt: skip
        for r in set_rows:
            if r["event_id"] in evs and r["label"] in ("new_event", "follow_up"):
                evs[r["event_id"]].article_ids.add(r["item_id"])
                evs[r["event_id"]].languages.add(r["lang"])
        events[name] = [e for e in evs.values() if e.article_ids]
        rows += set_rows
    return rows, gold, events


def predicted_events(
    rows: Sequence[dict[str, str]],
    data: Labelled,
    probs: np.ndarray,
    floor: float,
) -> list[PredictedEvent]:
    """Decide, then resolve events as the load step does, for the given rows."""
    ids = {r["item_id"] for r in rows}
    keep = [i for i, item in enumerate(data.items) if item.article_id in ids]
    sub_items = [data.items[i] for i in keep]
    remap = {old: new for new, old in enumerate(keep)}
    sel = [r for r, (i, _j) in enumerate(data.batch.where) if i in remap]
    batch = Batch(
        [data.batch.named[r] for r in sel],
        [(remap[data.batch.where[r][0]], data.batch.where[r][1]) for r in sel],
    )
    detections, _counts = decide(sub_items, batch, probs[sel], floor)
    return events_from_detections(detections, list(rows))


def report(rows, gold_events, events, threshold: float | None = None) -> Report:
    chosen = [e for e in events if threshold is None or e.confidence >= threshold]
    negatives = [r["label"] for r in rows if r["label"] in NEGATIVE_LABELS]
    return score(chosen, gold_events, negative_articles=negatives,
                 in_catalogue=set(default_catalogue().apps))  # fmt: skip


def calibration_table(events_by_set, reports) -> list[tuple[float, float, int, int]]:
    """(band low, band high, right, total) of event confidence over all sets."""
    bands = [(0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01)]
    out = []
    for lo, hi in bands:
        right = total = 0
        for name, events in events_by_set.items():
            matched = {id(p) for _g, p in reports[name].matches}
            for e in events:
                if lo <= e.confidence < hi:
                    total += 1
                    right += id(e) in matched
        out.append((lo, hi, right, total))
    return out


def emailed_at(by_set, gold_events, events_by_set, t: float) -> tuple[int, int, int]:
    """Pooled (tp, fp, fn) of the events whose confidence clears `t`, each set rescored."""
    tp = fp = fn = 0
    for n in by_set:
        r = report(by_set[n], gold_events[n], events_by_set[n], t)
        tp, fp, fn = tp + r.tp, fp + r.fp, fn + r.fn
    return tp, fp, fn


def choose_threshold(by_set, gold_events, events_by_set) -> float:
    """The lowest confidence (0.01 steps) whose pooled emailed precision is >= the target."""
    for t in np.arange(0.5, 1.0, 0.01):
        tp, fp, _fn = emailed_at(by_set, gold_events, events_by_set, float(t))
        if tp + fp and tp / (tp + fp) >= TARGET_PRECISION:
            return round(float(t), 2)
    return 0.99


def plot(table, path: str, probs: np.ndarray, y: np.ndarray) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    edges = np.linspace(0, 1, 11)
    mids, fracs, counts = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        m = (probs >= lo) & (probs < hi if hi < 1 else probs <= hi)
        if m.sum():
            mids.append(probs[m].mean())
            fracs.append(y[m].mean())
            counts.append(int(m.sum()))
    ax = axes[0]
    ax.plot([0, 1], [0, 1], ls="--", color="grey", label="perfectly calibrated")
    ax.plot(mids, fracs, marker="o", label="candidates (cross-validated)")
    emids = [(lo + min(hi, 1.0)) / 2 for lo, hi, _r, t in table if t]
    efracs = [r / t for _lo, _hi, r, t in table if t]
    ax.plot(emids, efracs, marker="s", label="events (cross-validated)")
    ax.set_xlabel("calibrated confidence")
    ax.set_ylabel("fraction right")
    ax.set_title("Reliability")
    ax.legend(loc="upper left", fontsize=8)
    axes[1].hist(probs, bins=edges, color="tab:blue")
    axes[1].set_title("Candidates per confidence")
    axes[1].set_xlabel("calibrated confidence")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--floor", type=float, default=0.4, help="detect.min_confidence")
    ap.add_argument("--threshold", type=float, help="alerts.min_confidence (default: chosen)")
    ap.add_argument("--plot", help="write the reliability diagram (PNG) here")
    ap.add_argument("--details", action="store_true", help="list misses and false alarms")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    rows, gold, gold_events = load_all()
    data = build(rows, gold)
    print(f"candidates {len(data.y)} (positive {int(data.y.sum())}); event articles "
          f"{data.event_articles}, {data.missed} without the gold step in candidates")  # fmt: skip
    probs = cross_validate(data, folds=args.folds, seed=args.seed)
    from sklearn.metrics import roc_auc_score

    print(f"candidate AUC (cross-validated): {roc_auc_score(data.y, probs):.3f}")
    by_set = defaultdict(list)
    for r in rows:
        by_set[r["set"]].append(r)
    events_by_set = {
        name: predicted_events(set_rows, data, probs, args.floor)
        for name, set_rows in by_set.items()
    }
    all_reports = {n: report(by_set[n], gold_events[n], events_by_set[n]) for n in by_set}
    print("pooled emailed events by alerts.min_confidence (cross-validated):")
    for t in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.92, 0.95):
        tp, fp, fn = emailed_at(by_set, gold_events, events_by_set, t)
        p, r = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        print(f"  >= {t:.2f}: precision {p:.3f}  recall {r:.3f}  (tp {tp}, fp {fp})")
    threshold = args.threshold or choose_threshold(by_set, gold_events, events_by_set)
    print(f"alerts.min_confidence = {threshold} (lowest with pooled emailed precision >= 0.95)")
    print("\n| set | all events P / R / F1 | emailed P / R / F1 | fields c/s/a/scope/action/date |")
    print("| --- | --- | --- | --- |")
    totals = defaultdict(int)
    for name in by_set:
        a = all_reports[name]
        e = report(by_set[name], gold_events[name], events_by_set[name], threshold)
        f = a.field_accuracy
        keys = ("country", "subdivision", "app", "scope", "action", "announced_on")
        fields = " / ".join(f"{f.get(k, 0):.2f}" for k in keys)
        print(f"| {name} | {a.precision:.3f} / {a.recall:.3f} / {a.f1:.3f} | "
              f"{e.precision:.3f} / {e.recall:.3f} / {e.f1:.3f} | {fields} |")  # fmt: skip
        for k, v in (("atp", a.tp), ("afp", a.fp), ("afn", a.fn), ("etp", e.tp), ("efp", e.fp),
                     ("efn", e.fn)):  # fmt: skip
            totals[k] += v
        if args.details:
            print("\n".join("    " + line for line in e.lines(details=True)[-40:]))

    def prf(tp, fp, fn):
        p = tp / (tp + fp) if tp + fp else 0
        r = tp / (tp + fn) if tp + fn else 0
        return p, r, (2 * p * r / (p + r) if p + r else 0)

    ap_, ar, af = prf(totals["atp"], totals["afp"], totals["afn"])
    ep, er, ef = prf(totals["etp"], totals["efp"], totals["efn"])
    print(f"| pooled | {ap_:.3f} / {ar:.3f} / {af:.3f} | {ep:.3f} / {er:.3f} / {ef:.3f} | |")
    table = calibration_table(events_by_set, all_reports)
    print("\ncalibration of event confidence (cross-validated):")
    for lo, hi, right, total in table:
        print(f"  [{lo:.1f}, {min(hi, 1.0):.1f}): {right}/{total} right"
              + (f" = {right / total:.2f}" if total else ""))  # fmt: skip
    langs = defaultdict(lambda: [0, 0])
    for name in by_set:
        for lang, (hit, tot) in all_reports[name].recall_by_language.items():
            langs[lang][0] += hit
            langs[lang][1] += tot
    print("recall per language (all events): "
          + ", ".join(f"{k} {h}/{t}" for k, (h, t) in sorted(langs.items())))  # fmt: skip
    if args.plot:
        plot(table, args.plot, probs, data.y)
        print(f"reliability diagram: {args.plot}")


if __name__ == "__main__":
    main()
