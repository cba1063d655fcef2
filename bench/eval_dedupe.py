"""Story grouping quality: pair precision/recall/F1 per labelled set, merges on real pages.

    python -m bench.eval_dedupe [--sets eval,eval-fulltext,devset,holdout] [--inputs]
        [--realpages /work/corpora/tests/resources/parser/test_data] [--window-days 3]
        [--model-only] [--details]

Two articles of a labelled set belong to one story when they report the same gold event within
the grouping window (`dedupe.window_days`); every other pair should stay apart. The bench runs
the real `enrich.dedupe.dedupe_stories` over each set (signatures from `story_signature`, the
embedder `embed.*` configures: the offline MiniLM on ONNX Runtime, title + lead cut at 64
tokens) and prints:

- the grouping decision's thresholds (`JoinRule`) chosen by 5-fold cross-validation with folds
  GROUPED BY SITUATION (country, subdivision, app; an article with no event is its own group),
  pooled over the sets: each fold's thresholds are fitted on the other folds' articles, then
  the whole set is grouped with them and the pairs with an article in the held-out fold are
  scored (each pair once, by the first fold it falls in). That is the estimate; the same
  thresholds fitted on everything and scored on everything is a TRAINING score, printed beside.
- the same figures before this decision (cosine alone; cosine + the old place/app veto);
- with `--realpages DIR`: the Fundus test pages (`<country>/<Publisher>_<date>.html.gz`, none
  of which reports the same development as another), extracted with `ingest.extract`, all
  published at one moment (the worst case: one window): every multi-page story is a false merge;
- with `--model-only`: only the learned pair decision's CV (a few minutes instead of the rules'
  coordinate ascent); with `--details`: its held-out wrong pairs with titles and signatures,
  for diagnosis (never the holdout set's rows);
- with `--inputs`: the CV figure per set for other embedded inputs (title + first sentence at
  64 tokens, the lead at 64 / 256 tokens, title + text at 128 / 256 tokens).

The labelled sets are for measuring and fitting only: never copy their rows into tests or rules.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import hashlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from banwatch.enrich.dedupe import (
    ENGLISH_ONLY,
    JoinRule,
    NewArticles,
    Signature,
    StoredArticles,
    dedupe_stories,
    story_signature,
)
from banwatch.enrich.story_pairs import FEATURES, PairModel, pair_features

from bench.eval_events import article_text
from bench.labelled import SET_NAMES, read_set, set_dirs

FOLDS = 5
GRID = {
    "threshold": [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8],
    "entity_threshold": [0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6],
    "foreign_threshold": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],
    "title_overlap": [0.25, 0.34, 0.5, 0.75, 1.01],  # 1.01: title words never suffice
    "nested_places": [False, True],
    "action_veto": [False, True],
}
DEFAULT_INPUT = "lead@64"
REAL_PAGES = "realpages"
NO_DETAILS = ("holdout",)  # sets whose rows `--details` never prints


@dataclass
class LabelledSet:
    """One set's articles, with what grouping and scoring need."""

    name: str
    rows: list[dict]
    when: np.ndarray  # seconds
    same: np.ndarray  # bool (n, n): same gold event within the window, upper triangle
    pairs: np.ndarray  # bool (n, n): the pairs scored (upper triangle)
    fold: np.ndarray  # fold of each article (by situation)
    signatures: list[Signature]


def _situation(row: dict, gold: dict) -> str:
    event = gold.get(row["event_id"])
    if not event:
        return "article:" + row["item_id"]
    return "|".join([event["country"], event["subdivision"], event["app"]])


def _fold(key: str) -> int:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % FOLDS


def load_sets(names: list[str], window_days: float) -> list[LabelledSet]:
    dirs = set_dirs()
    out = []
    for name in names:
        if name not in dirs:
            print(f"set {name}: not on this machine, skipped")
            continue
        rows, gold = read_set(dirs[name])
        for r in rows:
            r["when"] = dt.datetime.fromisoformat(r["published"].replace("Z", "+00:00"))
            r["text"] = article_text(r)
        when = np.array([r["when"].timestamp() for r in rows])
        events = np.array([r["event_id"] or f"-{i}" for i, r in enumerate(rows)])
        near = np.abs(when[:, None] - when[None, :]) <= window_days * 86400
        upper = np.triu(np.ones((len(rows), len(rows)), dtype=bool), 1)
        same = (events[:, None] == events[None, :]) & near & upper
        out.append(
            LabelledSet(
                name,
                rows,
                when,
                same,
                upper,
                np.array([_fold(f"{name}|{_situation(r, gold)}") for r in rows]),
                [Signature.of(story_signature(r["headline"], r["text"], r["lang"])) for r in rows],
            )
        )
    return out


# ---------------------------------------------------------------- embedded inputs


def _first_sentence_input(row: dict) -> str:
    from banwatch.enrich.dedupe import _first_sentence

    return f"{row['headline']}. {_first_sentence(row['text'])}"


def _lead_input(row: dict) -> str:
    # as Article.lead: title + the first 60 words
    return f"{row['headline']}. {' '.join(row['text'].split()[:60])}"


def _text_input(row: dict) -> str:
    return f"{row['headline']}. {row['text']}"


INPUTS = {
    "title+first sentence@64": (_first_sentence_input, 64),
    "lead@64": (_lead_input, 64),
    "lead@256": (_lead_input, 256),
    "title+text@128": (_text_input, 128),
    "title+text@256": (_text_input, 256),
}


def embed(texts: list[str], max_tokens: int) -> np.ndarray:
    from banwatch.enrich.embed import embed_texts, load_embedder

    return embed_texts(texts, load_embedder(max_tokens=max_tokens))


# ---------------------------------------------------------------- grouping and scoring


def group(
    s: LabelledSet,
    matrix: np.ndarray,
    subset: np.ndarray,
    rule: JoinRule,
    window_days: float,
    *,
    signatures: list[Signature] | None = None,
    model_languages=ENGLISH_ONLY,
    decider: str | PairModel = "rules",
) -> np.ndarray:
    """Story label of each article in `subset` (the others get -1), by the real dedupe."""
    idx = np.flatnonzero(subset)
    sigs = signatures if signatures is not None else s.signatures
    assigned, _ = dedupe_stories(
        NewArticles(
            [s.rows[i]["item_id"] for i in idx],
            [s.rows[i]["when"] for i in idx],
            matrix[idx],
            [sigs[i] for i in idx],
        ),
        StoredArticles.empty(matrix.shape[1]),
        threshold=rule.threshold,
        window_days=window_days,
        now=max(r["when"] for r in s.rows),
        rule=rule,
        model_languages=model_languages,
        decider=decider,
    )
    story = {a.article_id: a.story_id for a in assigned}
    ids = {sid: k for k, sid in enumerate(sorted(set(story.values())))}
    labels = np.full(len(s.rows), -1)
    for i in idx:
        labels[i] = ids[story[s.rows[i]["item_id"]]]
    return labels


def counts(s: LabelledSet, labels: np.ndarray, scored: np.ndarray) -> np.ndarray:
    """(tp, fp, fn) over the scored pairs."""
    grouped = (labels[:, None] == labels[None, :]) & (labels[:, None] >= 0)
    scored = scored & s.pairs
    return np.array(
        [
            int((grouped & s.same & scored).sum()),
            int((grouped & ~s.same & scored).sum()),
            int((~grouped & s.same & scored).sum()),
        ]
    )


def prf(c: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn = (int(x) for x in c)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def fit(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    train: dict[str, np.ndarray],
    window_days: float,
) -> JoinRule:
    """The rule with the best pair F1 pooled over the labelled sets' training articles, among
    those that merge no two of the training real pages (a merge there is always wrong, and real
    news is mostly unrelated articles: the labelled sets alone would pull the bar too low).

    Coordinate ascent over `GRID` (each setting in turn, the others held, until nothing
    improves): a few dozen groupings per fit instead of the grid's thousand.
    """
    cache: dict[JoinRule, tuple[int, float]] = {}

    def score(rule: JoinRule) -> tuple[int, float]:
        """(minus the false merges of real pages, pair F1 pooled over the labelled sets)."""
        if rule not in cache:
            total = np.zeros(3, dtype=int)
            false_real = 0
            for s in sets:
                mask = train[s.name]
                labels = group(s, matrices[s.name], mask, rule, window_days)
                c = counts(s, labels, mask[:, None] & mask[None, :])
                if s.name == REAL_PAGES:
                    false_real += int(c[1])
                else:
                    total += c
            cache[rule] = (-false_real, prf(total)[2])
        return cache[rule]

    best = JoinRule()
    for _ in range(4):
        before = best
        for key, values in GRID.items():
            best = max(
                (dataclasses.replace(best, **{key: v}) for v in values),
                key=lambda r: (score(r), r == best),  # ties keep the current setting
            )
        if best == before:
            break
    return best


def cross_validate(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    window_days: float,
) -> tuple[dict[str, np.ndarray], list[JoinRule]]:
    """Held-out (tp, fp, fn) per set, and the rule each fold chose."""
    held = {s.name: np.zeros(3, dtype=int) for s in sets}
    chosen = []
    for k in range(FOLDS):
        train = {s.name: s.fold != k for s in sets}
        rule = fit(sets, matrices, train, window_days)
        chosen.append(rule)
        for s in sets:
            labels = group(s, matrices[s.name], np.ones(len(s.rows), dtype=bool), rule, window_days)
            first = np.minimum(s.fold[:, None], s.fold[None, :])  # each pair scored once
            held[s.name] += counts(s, labels, first == k)
    return held, chosen


def _line(name: str, c: np.ndarray) -> str:
    p, r, f = prf(c)
    return f"  {name:<14} P {p:.3f}  R {r:.3f}  F1 {f:.3f}   (tp {c[0]}, fp {c[1]}, fn {c[2]})"


def _old_signatures(s: LabelledSet) -> list[Signature]:
    """The decision before: places and apps veto, everything counts as English."""
    return [Signature(x.places, x.apps, language="en") for x in s.signatures]


# ---------------------------------------------------------------- the learned pair decision

PAIR_FLOOR = 0.1  # candidate pairs: cosine at least this (the rules' foreign floor)
PAIR_TREES, PAIR_DEPTH, PAIR_RATE = 100, 2, 0.1
PAIR_CUTS = 1 / (1 + np.exp(-np.arange(-3.0, 8.01, 0.25)))  # probabilities, dense near 1


def pair_rows(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    train: dict[str, np.ndarray],
    window_days: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of the candidate pairs among training articles: within the window,
    cosine >= PAIR_FLOOR; a positive is the same gold event (real pages: negatives, but for the
    page saved twice)."""
    xs, ys = [], []
    for s in sets:
        m, mask = matrices[s.name], train[s.name]
        cos = m @ m.T
        near = np.abs(s.when[:, None] - s.when[None, :]) <= window_days * 86400
        ii, kk = np.nonzero(s.pairs & near & (cos >= PAIR_FLOOR) & mask[:, None] & mask[None, :])
        xs += [
            pair_features(
                float(cos[i, k]),
                s.when[i] - s.when[k],
                s.signatures[i],
                s.signatures[k],
                ENGLISH_ONLY,
            )
            for i, k in zip(ii, kk, strict=True)
        ]
        ys.append(s.same[ii, kk])
    return np.asarray(xs, dtype=np.float64), np.concatenate(ys)


def fit_pair_model(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    train: dict[str, np.ndarray],
    window_days: float,
    *,
    seed: int = 0,
    meta: dict | None = None,
) -> PairModel:
    """Boosted trees on the training pairs, then the cut: the best pooled pair F1 of the real
    grouping on the training articles among cuts that merge no two training real pages."""
    from banwatch.enrich.detect.model import trees_from_sklearn
    from sklearn.ensemble import HistGradientBoostingClassifier

    x, y = pair_rows(sets, matrices, train, window_days)
    gb = HistGradientBoostingClassifier(
        max_depth=PAIR_DEPTH,
        max_iter=PAIR_TREES,
        learning_rate=PAIR_RATE,
        class_weight="balanced",
        min_samples_leaf=20,
        random_state=seed,
    ).fit(x, y)
    trees = trees_from_sklearn(gb)
    model = PairModel(
        FEATURES,
        float(np.ravel(gb._baseline_prediction)[0]),
        trees,
        0.0,
        PAIR_FLOOR,
        {
            "model": f"HistGradientBoosting depth {PAIR_DEPTH}, {PAIR_TREES} trees, "
            f"lr {PAIR_RATE}, balanced",
            "seed": seed,
            "pairs": int(len(y)),
            "positives": int(y.sum()),
            **(meta or {}),
        },
    )
    # the exported trees must score exactly as scikit-learn does
    assert np.allclose(model.score(x[:500]), gb.decision_function(x[:500]), atol=1e-6)
    best = None
    for p in PAIR_CUTS:
        cut = float(np.log(p / (1 - p)))
        total, false_real = np.zeros(3, dtype=int), 0
        for s in sets:
            mask = train[s.name]
            labels = group(
                s, matrices[s.name], mask, JoinRule(), window_days, decider=model.with_cut(cut)
            )
            c = counts(s, labels, mask[:, None] & mask[None, :])
            if s.name == REAL_PAGES:
                false_real += int(c[1])
            else:
                total += c
        score = (-false_real, prf(total)[2])
        if best is None or score > best[0]:
            best = (score, cut)
    return model.with_cut(round(best[1], 6))


def cross_validate_model(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    window_days: float,
    errors: dict[str, list[tuple[str, int, int]]] | None = None,
) -> tuple[dict[str, np.ndarray], list[float]]:
    """Held-out (tp, fp, fn) per set of the learned decision (folds as `cross_validate`), and
    each fold's cut. `errors`, when given, receives each set's held-out wrong pairs
    ("fp" or "fn", i, k) for `--details`."""
    held = {s.name: np.zeros(3, dtype=int) for s in sets}
    cuts = []
    for k in range(FOLDS):
        model = fit_pair_model(sets, matrices, {s.name: s.fold != k for s in sets}, window_days)
        cuts.append(model.cut)
        for s in sets:
            everyone = np.ones(len(s.rows), dtype=bool)
            labels = group(s, matrices[s.name], everyone, JoinRule(), window_days, decider=model)
            first = np.minimum(s.fold[:, None], s.fold[None, :])
            held[s.name] += counts(s, labels, first == k)
            if errors is not None:
                grouped = labels[:, None] == labels[None, :]
                scored = (first == k) & s.pairs
                for kind, wrong in (("fp", grouped & ~s.same), ("fn", ~grouped & s.same)):
                    ii, jj = np.nonzero(wrong & scored)
                    errors.setdefault(s.name, []).extend(
                        (kind, int(i), int(j)) for i, j in zip(ii, jj, strict=True)
                    )
    return held, cuts


def print_errors(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    errors: dict[str, list[tuple[str, int, int]]],
) -> None:
    """The held-out wrong pairs with both titles and signatures, for diagnosis only (never
    rules for one row). The holdout set's rows are never printed."""
    for s in sets:
        if s.name in NO_DETAILS or not errors.get(s.name):
            continue
        print(f"\nheld-out wrong pairs, {s.name} (fp: merged apart stories, fn: missed):")
        m = matrices[s.name]
        for kind, i, j in errors[s.name]:
            print(f"  {kind} cos {float(m[i] @ m[j]):.2f}")
            for x in (i, j):
                g = s.signatures[x]
                print(
                    f"     [{s.rows[x].get('event_id') or '-'}] {s.rows[x]['headline'][:110]}"
                    f"  | {sorted(g.places)} w{sorted(g.weak_places)} {sorted(g.apps)} "
                    f"{sorted(g.actions)}{' company' if getattr(g, 'company', False) else ''}"
                    f"{' comment' if g.comment else ''} {g.language}"
                )


# ---------------------------------------------------------------- real pages


def real_page_set(root: Path) -> LabelledSet:
    """The Fundus test pages as a set with no story: extracted as ingest does, all published
    at one moment (one window, the worst case). Pages of one publisher with the same title (the
    same article saved twice) are one story; every other grouped pair is a false merge."""
    from banwatch.ingest.extract import extract_page
    from banwatch.ingest.fetch import decode_html

    from bench.realpages import load_pages

    rows = []
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for page in load_pages(root):
        html = decode_html(gzip.decompress(page.path.read_bytes()))
        found = extract_page(html, page.original_url or None)
        if not found or not found["text"]:
            continue
        rows.append(
            {
                "item_id": f"{page.country}/{page.path.name}",
                "headline": found["title"] or page.title,
                "text": found["text"],
                "lang": found["language"],
                "when": when,
            }
        )
    n = len(rows)
    texts = np.array(
        [
            r["item_id"].split("_")[0] + "|" + " ".join(r["headline"].casefold().split())
            for r in rows
        ]
    )
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    return LabelledSet(
        REAL_PAGES,
        rows,
        np.full(n, when.timestamp()),
        (texts[:, None] == texts[None, :]) & upper,
        upper,
        np.array([_fold("page|" + t) for t in texts]),
        [Signature.of(story_signature(r["headline"], r["text"], r["lang"])) for r in rows],
    )


def merges(s: LabelledSet, labels: np.ndarray) -> tuple[int, int, int, list[list[str]]]:
    """(stories of several pages, largest, false pairs, those stories) of a grouping."""
    members: dict[int, list[str]] = {}
    for i, label in enumerate(labels):
        members.setdefault(int(label), []).append(f"{s.rows[i]['item_id']} [{s.rows[i]['lang']}]")
    multi = [m for m in members.values() if len(m) > 1]
    return (
        len(multi),
        max((len(m) for m in multi), default=1),
        int(counts(s, labels, s.pairs)[1]),
        multi,
    )


# ---------------------------------------------------------------- main


def _print_model_cv(
    sets: list[LabelledSet],
    matrices: dict[str, np.ndarray],
    window_days: float,
    errors: dict[str, list[tuple[str, int, int]]] | None,
) -> None:
    learned, cuts = cross_validate_model(sets, matrices, window_days, errors)
    print("\nthe learned pair decision (dedupe.decider = 'model'), cross-validated:")
    print("  fold cuts (log-odds): " + ", ".join(f"{c:.2f}" for c in cuts))
    for s in sets:
        print(_line(s.name, learned[s.name]))
    print(_line("pooled", sum(learned[s.name] for s in sets if s.name != REAL_PAGES)))
    if errors is not None:
        print_errors(sets, matrices, errors)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SET_NAMES))
    parser.add_argument("--window-days", type=float, default=3)
    parser.add_argument("--realpages", type=Path, default=None, help="Fundus test_data folder")
    parser.add_argument("--inputs", action="store_true", help="compare embedded inputs")
    parser.add_argument(
        "--model-only", action="store_true", help="only the learned pair decision's CV (fast)"
    )
    parser.add_argument(
        "--details", action="store_true", help="print held-out wrong pairs (not holdout's)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.process_time()

    sets = load_sets(args.sets.split(","), args.window_days)
    if args.realpages:
        sets.append(real_page_set(args.realpages))
    fn, tokens = INPUTS[DEFAULT_INPUT]
    matrices = {s.name: embed([fn(r) for r in s.rows], tokens) for s in sets}
    print(
        f"{sum(len(s.rows) for s in sets)} articles in {len(sets)} sets, window "
        f"{args.window_days:g} days, embedded input {DEFAULT_INPUT}, folds by situation: {FOLDS}"
    )
    everything = {s.name: np.ones(len(s.rows), dtype=bool) for s in sets}
    errors: dict[str, list[tuple[str, int, int]]] | None = {} if args.details else None
    if args.model_only:
        _print_model_cv(sets, matrices, args.window_days, errors)
        print(f"\nbench CPU {time.process_time() - started:.0f} s")
        return

    print("\nbefore: cosine alone at 0.55, then cosine 0.55 + place/app veto (training scores)")
    plain = JoinRule(0.55, 0.55, nested_places=False, action_veto=False)
    for s in sets:
        m = matrices[s.name]
        alone = group(
            s,
            m,
            everything[s.name],
            plain,
            args.window_days,
            signatures=[Signature(language="en")] * len(s.rows),
        )
        veto = group(
            s, m, everything[s.name], plain, args.window_days, signatures=_old_signatures(s)
        )
        print(_line(s.name + " cos", counts(s, alone, s.pairs)))
        print(_line(s.name + " cos+veto", counts(s, veto, s.pairs)))

    held, chosen = cross_validate(sets, matrices, args.window_days)
    print("\nthe grouping decision, cross-validated (the estimate):")
    for k, rule in enumerate(chosen):
        print(f"  fold {k}: {dataclasses.astuple(rule)}")
    for s in sets:
        print(_line(s.name, held[s.name]))
    print(_line("pooled", sum(held[s.name] for s in sets if s.name != REAL_PAGES)))

    _print_model_cv(sets, matrices, args.window_days, errors)

    final = fit(sets, matrices, everything, args.window_days)
    print(f"\nfitted on everything (ship these): {final}")
    print("training score (same data as the fit, NOT an estimate):")
    for s in sets:
        labels = group(s, matrices[s.name], everything[s.name], final, args.window_days)
        print(_line(s.name, counts(s, labels, s.pairs)))

    if args.realpages:
        pages = sets[-1]
        print(
            f"\nreal pages: {len(pages.rows)} Fundus pages with text, all published at once, "
            f"languages {dict(Counter(r['lang'] for r in pages.rows).most_common())}; "
            f"{int(pages.same.sum())} pairs of one article saved twice; other merges are false"
        )
        print(f"  held out (CV): {held[pages.name][1]} false pairs")
        everyone = everything[pages.name]
        m = matrices[pages.name]
        for label, rule, sigs, decider in (
            ("before (cosine 0.55 + place/app veto)", plain, _old_signatures(pages), "rules"),
            ("the fitted rule alone, English-only model", final, None, "rules"),
            ("dedupe.decider = 'model' (packaged model, default rule)", JoinRule(), None, "model"),
        ):
            multi, largest, pairs, stories = merges(
                pages,
                group(pages, m, everyone, rule, args.window_days, signatures=sigs, decider=decider),
            )
            print(f"  {label}: {multi} multi-page stories, largest {largest}, {pairs} false pairs")
            for story in stories[:8]:
                print("     " + "; ".join(story[:6]) + (" ..." if len(story) > 6 else ""))

    if args.inputs:
        print(
            "\nembedded inputs: cross-validated pair F1 per set (the same fit and folds; real "
            "pages: held-out false pairs)"
        )
        print("  " + f"{'input':<26}" + "".join(f"{s.name:>15}" for s in sets) + f"{'pooled':>10}")
        for name, (fn, tokens) in INPUTS.items():
            ms = {s.name: embed([fn(r) for r in s.rows], tokens) for s in sets}
            held, _ = cross_validate(sets, ms, args.window_days)
            row = "".join(
                f"{f'{held[s.name][1]} false pairs':>15}"
                if s.name == REAL_PAGES
                else f"{prf(held[s.name])[2]:>15.3f}"
                for s in sets
            )
            pooled = sum(held[s.name] for s in sets if s.name != REAL_PAGES)
            print(f"  {name:<26}{row}{prf(pooled)[2]:>10.3f}")
    print(f"\nbench CPU {time.process_time() - started:.0f} s")


if __name__ == "__main__":
    main()
