"""From candidates to detections: features for a batch, then the article-level choice (one
news event per actor and step) from the model's calibrated probabilities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from banwatch.enrich.detect.article import Candidate
from banwatch.enrich.detect.features import candidate_features

from banwatch.records import Detection


@dataclass
class ArticleCandidates:
    """One article's candidates."""

    article_id: str
    headline: str
    candidates: list[Candidate]


@dataclass
class Batch:
    """Features of every candidate of a batch; `where[r]` = (article index, candidate index)."""

    named: list[dict[str, float]]
    where: list[tuple[int, int]]


def featurize(items: Sequence[ArticleCandidates]) -> Batch:
    """Named features of every candidate of a batch."""
    where = [(i, j) for i, item in enumerate(items) for j in range(len(item.candidates))]
    named = [candidate_features(items[i].candidates[j], items[i].headline) for i, j in where]
    return Batch(named, where)


def decide(
    items: Sequence[ArticleCandidates],
    batch: Batch,
    probability: np.ndarray,
    min_confidence: float,
    join_confidence: float | None = None,
) -> tuple[list[Detection], dict[str, int]]:
    """News detections (confidence = calibrated probability) and the rules' background mentions.

    A candidate at or above `min_confidence` is news. Of an
    article's news candidates with one actor and action only the most probable stands (one
    step, one scope, one app). Below the floor, a candidate the rules read as recalled stays a
    background mention (the history novelty needs); anything else is dropped, except that with
    `join_confidence` an article with no news keeps its most probable candidate at or above it
    as a *weak* detection (confidence below `min_confidence`): novelty lets it add a source to
    an event other articles started, never start one (`novelty.Sourcing.start_confidence`).
    """
    best: dict[tuple, tuple[float, Detection]] = {}
    weak: dict[int, tuple[float, Detection]] = {}
    mentions: list[Detection] = []
    dropped = 0
    for (i, j), p in zip(batch.where, probability, strict=True):
        cand = items[i].candidates[j]
        d = cand.detection
        if p >= min_confidence:
            news = dataclasses.replace(d, background=False, confidence=round(float(p), 4))
            key = (i, d.country, d.subdivision or "", d.body, d.action)
            if key not in best or p > best[key][0]:
                if key in best:
                    dropped += 1
                best[key] = (float(p), news)
            else:
                dropped += 1
        elif d.background and cand.rule_keep:
            mentions.append(d)
        else:
            dropped += 1
            if join_confidence is not None and p >= join_confidence:
                if i not in weak or p > weak[i][0]:
                    weak[i] = (float(p), dataclasses.replace(d, confidence=round(float(p), 4)))
    news_list = [d for _, d in best.values()]
    with_news = {i for (i, *_rest) in best}
    weak_list = [d for i, (_, d) in sorted(weak.items()) if i not in with_news]
    counts = {"news": len(news_list), "mentions": len(mentions), "rejected": dropped}
    if join_confidence is not None:
        counts |= {"rejected": dropped - len(weak_list), "weak": len(weak_list)}
    return news_list + mentions + weak_list, counts
