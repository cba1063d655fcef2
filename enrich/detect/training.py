"""Fit the decision model from labelled articles (scripts/train_detector.py drives this).

Labels come from the labelled sets' format (`/work/shared/eval/README.md`): a candidate is
positive when the article reports an event (`new_event`, `follow_up`) and the candidate's
(country, subdivision, app, scope, action) is that event's; every other candidate of every
article is negative (background mentions, calls, company and platform rules, other bans, and
wrong readings of the right step). Targeting the whole key keeps the calibrated confidence a
probability that the email would be right. (Separate scope and action heads over the same
features, tried on 2026-12-03, lowered cross-validated precision and were dropped.)

Folds are grouped by situation (country, subdivision, app) so that one story's outlets, and one
situation's states, never sit on both sides of a fold. `fit` fits the isotonic calibration on
cross-validated scores inside the data it is given, so an
outer cross-validation around it (`cross_validate`) measures the whole procedure on unseen
situations. scikit-learn is needed only here, not at inference.

Analysts' judgements (`banwatch review export`, read by `read_judgements`) add examples:
`build_judged` finds the candidate that produced each judged event in its evidence article, a
positive when the event was confirmed and a negative when it was rejected, grouped by the
same situation key; `combine` appends them to the labelled sets' candidates.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from banwatch.enrich.apps import default_catalogue
from banwatch.enrich.detect.article import Candidate, find_candidates
from banwatch.enrich.detect.decide import ArticleCandidates, Batch, featurize
from banwatch.enrich.detect.features import feature_matrix
from banwatch.enrich.detect.model import DetectorModel, trees_from_sklearn

logger = logging.getLogger(__name__)

EVENT_LABELS = ("new_event", "follow_up")
TREES, TREE_DEPTH, LEARNING_RATE = 200, 3, 0.05  # chosen once by grouped CV AUC (0.899-0.903)
INNER_FOLDS = 4
FRESH_DAYS = 7  # a labelled event stated this soon after it happened is news, not background


@dataclass
class Labelled:
    """Candidates of labelled articles with their targets and fold groups."""

    rows: list[Mapping[str, str]]  # one per item (articles without candidates are left out)
    items: list[ArticleCandidates]
    batch: Batch
    names: list[str]
    y: np.ndarray  # per candidate: 1 = the article's reported event, every field right
    groups: np.ndarray  # per candidate: situation of its article
    missed: int  # event articles none of whose candidates is the gold event (recall ceiling)
    event_articles: int


def article_text(row: Mapping[str, str]) -> str:
    """The page text a labelled row stands for: lead, then the body's paragraphs."""
    body = (row.get("body") or "").replace(" || ", "\n")
    return "\n".join(p for p in (row.get("lead", ""), body) if p)


def published(row: Mapping[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(row["published"].replace("Z", "+00:00"))


def situation_of(country: str, subdivision: str | None, app: str) -> str:
    return f"{country}|{subdivision or ''}|{app}"


def build(rows: Sequence[Mapping[str, str]], gold: Mapping[str, Mapping[str, str]]) -> Labelled:
    """Candidates, features, targets and groups of labelled rows; `gold` maps event_id to its
    events.csv row."""
    catalogue = default_catalogue()
    facts: dict[tuple, list[dt.date]] = {}
    for g in gold.values():
        k = (g["country"], g["subdivision"] or "", g["app"], g["scope"], g["action"])
        facts.setdefault(k, []).append(dt.date.fromisoformat(g["announced_on"]))
    kept_rows, items, targets = [], [], []
    missed = event_articles = 0
    for row in rows:
        text = article_text(row)
        found = find_candidates(
            row["headline"],
            text,
            published(row),
            article_id=row["item_id"],
            catalogue=catalogue,
            language=row.get("lang"),
        )
        g = gold.get(row.get("event_id", "")) if row.get("label") in EVENT_LABELS else None
        key = (g["country"], g["subdivision"] or "", g["app"], g["scope"], g["action"]) if g else ()
        # the article's own event, or another labelled event it states within days of it
        # happening (the Welsh ban beside the UK's): each is news the article reports
        hits = [
            key == _key(k.detection) or _fresh(facts.get(_key(k.detection), ()), published(row))
            for k in found
        ]
        if g is not None:
            event_articles += 1
            missed += not any(hits)
        if not found:
            continue
        if g is not None:
            group = situation_of(g["country"], g["subdivision"], g["app"])
        else:
            d = found[0].detection
            group = situation_of(d.country, d.subdivision, d.app)
        kept_rows.append(row)
        items.append(ArticleCandidates(row["item_id"], row["headline"], found))
        targets.append((hits, group))
    batch = featurize(items)
    y = np.array([targets[i][0][j] for i, j in batch.where], dtype=int)
    groups = np.array([targets[i][1] for i, _j in batch.where])
    names = sorted({k for feats in batch.named for k in feats})
    return Labelled(
        rows=kept_rows,
        items=items,
        batch=batch,
        names=names,
        y=y,
        groups=groups,
        missed=missed,
        event_articles=event_articles,
    )


JUDGED = {"confirmed": 1, "rejected": 0}  # verdict -> target


def read_judgements(path: str | Path) -> list[dict[str, str]]:
    """Rows of a `banwatch review export` file: CSV when it ends in .csv, else JSON lines."""
    path = Path(path)
    with path.open(encoding="utf-8", newline="") as fh:
        if path.suffix.lower() == ".csv":
            rows = list(csv.DictReader(fh))
        else:
            rows = [json.loads(line) for line in fh if line.strip()]
    return [{k: "" if v is None else str(v) for k, v in r.items()} for r in rows]


def _judged_time(row: Mapping[str, str]) -> dt.datetime:
    """When the evidence article was published (else first seen): dates resolve against it."""
    for key in ("published_at", "first_seen_at"):
        if row.get(key):
            when = dt.datetime.fromisoformat(row[key].replace("Z", "+00:00"))
            return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return dt.datetime.combine(dt.date.fromisoformat(row["announced_on"]), dt.time(), dt.UTC)


def _produced_by(found: Sequence[Candidate], row: Mapping[str, str]) -> list[Candidate]:
    """The candidates of the evidence article that produced the judged event: its evidence
    sentence with its (country, subdivision, app, action), else its whole key, else the key
    without scope (the load step may have given an unscoped candidate a known scope)."""
    key = (row["country"], row.get("subdivision") or "", row["app"], row["scope"], row["action"])
    short = key[:3] + key[4:]
    same = [c for c in found if _key(c.detection)[:3] + _key(c.detection)[4:] == short]
    for test in (
        lambda c: c.detection.evidence.strip() == row.get("evidence", "").strip(),
        lambda c: _key(c.detection) == key,
        lambda c: True,
    ):
        hits = [c for c in same if test(c)]
        if hits:
            return hits
    return []


def build_judged(judgements: Sequence[Mapping[str, str]]) -> Labelled:
    """Candidates, features, targets and groups of judged events (rows of `read_judgements`).

    Only the candidate that produced each event is labelled (1 confirmed, 0 rejected): the
    article's other candidates were not judged. Rows are taken in event_id order, so the same
    file always gives the same examples. A row whose article no longer yields that candidate
    (the rules changed) is counted in `missed` and left out.
    """
    catalogue = default_catalogue()
    kept_rows, items, targets = [], [], []
    missed = 0
    for row in sorted(judgements, key=lambda r: r["event_id"]):
        if row.get("verdict") not in JUDGED:
            continue
        found = find_candidates(
            row.get("title") or "",
            row.get("text") or "",
            _judged_time(row),
            article_id=row.get("article_id") or row["event_id"],
            catalogue=catalogue,
            language=row.get("language") or None,
        )
        picked = _produced_by(found, row)
        if not picked:
            missed += 1
            continue
        kept_rows.append(row)
        items.append(ArticleCandidates(f"judged:{row['event_id']}", row.get("title") or "", picked))
        group = situation_of(row["country"], row.get("subdivision"), row["app"])
        targets.append(([JUDGED[row["verdict"]]] * len(picked), group))
    if missed:
        logger.warning("%d judged events not found among their article's candidates", missed)
    batch = featurize(items)
    return Labelled(
        rows=kept_rows,
        items=items,
        batch=batch,
        names=sorted({k for feats in batch.named for k in feats}),
        y=np.array([targets[i][0][j] for i, j in batch.where], dtype=int),
        groups=np.array([targets[i][1] for i, _j in batch.where]),
        missed=missed,
        event_articles=sum(r["verdict"] == "confirmed" for r in kept_rows),
    )


def combine(a: Labelled, b: Labelled) -> Labelled:
    """`a`'s candidates followed by `b`'s, with the union of their feature names."""
    shift = len(a.items)
    return Labelled(
        rows=[*a.rows, *b.rows],
        items=[*a.items, *b.items],
        batch=Batch(
            [*a.batch.named, *b.batch.named],
            [*a.batch.where, *((i + shift, j) for i, j in b.batch.where)],
        ),
        names=sorted({*a.names, *b.names}),
        y=np.concatenate([a.y, b.y]).astype(int),
        groups=np.concatenate([a.groups.astype(str), b.groups.astype(str)]),
        missed=a.missed + b.missed,
        event_articles=a.event_articles + b.event_articles,
    )


def _key(d) -> tuple[str, str, str, str, str]:
    return (d.country, d.subdivision or "", d.app, d.scope, d.action)


def _fresh(dates: Sequence[dt.date], when: dt.datetime) -> bool:
    """Is one of these labelled events' dates within FRESH_DAYS before `when` (or just after)?"""
    return any(-1 <= (when.date() - d).days <= FRESH_DAYS for d in dates)


def _folds(groups: np.ndarray, n: int, seed: int):
    from sklearn.model_selection import GroupKFold

    n = min(n, len(set(groups)))
    return GroupKFold(n_splits=n, shuffle=True, random_state=seed).split(groups, groups=groups)


def _trees(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_depth=TREE_DEPTH, max_iter=TREES, learning_rate=LEARNING_RATE, random_state=seed
    )


def _calibration(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The map from raw score to probability, as knots for `np.interp`.

    Platt scaling (a logistic curve on the score), sampled densely. Isotonic regression, tried
    first, fitted the ~800 scores with a few wide plateaus: one held most real events at 0.85,
    so a threshold could only fall either side of it (cross-validated emailed recall at
    precision >= 0.95: 0.49 isotonic, 0.61 Platt; 2026-12-03).
    """
    from sklearn.linear_model import LogisticRegression

    platt = LogisticRegression(C=1e6).fit(scores.reshape(-1, 1), y)
    knots = np.linspace(scores.min() - 1.0, scores.max() + 1.0, 201)
    return knots, platt.predict_proba(knots.reshape(-1, 1))[:, 1]


def fit(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    names: Sequence[str],
    *,
    seed: int = 0,
    meta: Mapping[str, object] | None = None,
) -> DetectorModel:
    """Boosted trees on all of `x`, calibrated (Platt) on grouped inner
    cross-validated scores (so the map is fitted on scores of unseen situations)."""
    oof = np.zeros(len(y))
    for train, test in _folds(groups, INNER_FOLDS, seed):
        if len(set(y[train])) < 2:
            continue
        oof[test] = _trees(seed).fit(x[train], y[train]).decision_function(x[test])
    calib_x, calib_y = _calibration(oof, y)
    final = _trees(seed).fit(x, y)
    trees = trees_from_sklearn(final)
    model = DetectorModel(
        names=tuple(names),
        baseline=float(np.ravel(final._baseline_prediction)[0]),
        trees=trees,
        calib_x=calib_x,
        calib_y=calib_y,
        meta={
            "model": f"HistGradientBoosting depth {TREE_DEPTH}, {TREES} trees, lr {LEARNING_RATE}",
            "seed": seed,
            "candidates": int(len(y)),
            "positives": int(y.sum()),
            **dict(meta or {}),
        },
    )
    # the exported trees must score exactly as scikit-learn does
    assert np.allclose(model.score(x[:50]), final.decision_function(x[:50]), atol=1e-6)
    return model


def cross_validate(data: Labelled, *, folds: int = 5, seed: int = 0) -> np.ndarray:
    """Calibrated out-of-fold probabilities per candidate: each fold scored by a model (C and
    calibration included) fitted on the other folds' situations only."""
    x = feature_matrix(data.batch.named, data.names)
    probs = np.zeros(len(data.y))
    for k, (train, test) in enumerate(_folds(data.groups, folds, seed)):
        model = fit(x[train], data.y[train], data.groups[train], data.names, seed=seed)
        probs[test] = model.probability(x[test])
        logger.info("fold %d: %d candidates scored", k + 1, len(test))
    return probs


def data_version(paths: Sequence[str]) -> str:
    """sha256 (first 12 hex) over the labelled files, to name what a model was trained on."""
    h = hashlib.sha256()
    for p in sorted(paths):
        with open(p, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:12]
