"""Government app-ban event detection: candidates -> learned decision -> calibrated confidence.

1. **Candidates** (`candidates`, `article`): gazetteers of places, bodies and apps and
   multilingual cue families propose every event an article may state, with the rules' reading
   of its fields (actor, app, scope, action, date) and of whether it is recalled background.
   Tuned for recall; the rules' verdicts become signals.
2. **Decision** (`features`, `model`, `decide`): gradient-boosted trees over those signals and
   the cue families decide whether a candidate is a government's step on an app reported as
   news (not a call, a lawsuit, a company's or a platform's own rule, another kind of ban, or
   background), with every field as the candidate reads it.
3. **Confidence**: the model's score through a Platt map fitted on cross-validated scores,
   so a confidence of 0.9 means nine in ten were right on unseen situations
   (`docs/detection.md`). The alert policy (`alerts.min_confidence`) reads it.

`detect_text` is the rules' reading alone (what the candidates say, for tests and
explanations); `detect_ban_events` is the pipeline's entry point.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor

from banwatch.enrich.apps import AppCatalogue, default_catalogue
from banwatch.enrich.detect.article import Candidate, find_candidates
from banwatch.enrich.detect.candidates import split_sentences
from banwatch.enrich.detect.decide import ArticleCandidates, decide, featurize
from banwatch.enrich.detect.features import feature_matrix
from banwatch.enrich.detect.model import DetectorModel, load_model
from banwatch.enrich.detect.parallel import find_all, jobs

from banwatch.records import Article, Detection

__all__ = [
    "Candidate",
    "DetectorModel",
    "detect_ban_events",
    "detect_text",
    "find_candidates",
    "load_model",
    "split_sentences",
]

logger = logging.getLogger(__name__)


def detect_text(
    title: str,
    text: str,
    published: dt.datetime | None,
    *,
    article_id: str = "",
    catalogue: AppCatalogue | None = None,
    language: str | None = None,
    home_country: str | None = None,
) -> list[Detection]:
    """The rules' reading of an article: every event they keep, news first, recalled ones as
    `background`, with the rules' hand-set confidence (no model)."""
    found = find_candidates(
        title,
        text,
        published,
        article_id=article_id,
        catalogue=catalogue,
        language=language,
        home_country=home_country,
    )
    return [k.detection for k in found if k.rule_keep]


def detect_ban_events(
    articles: Sequence[Article],
    *,
    catalogue: AppCatalogue | None = None,
    min_confidence: float = 0.4,
    feed_countries: Mapping[str, str] | None = None,
    model: DetectorModel | None = None,
    decider: str = "model",
    join_confidence: float | None = None,
    pool: Executor | None = None,
) -> tuple[list[Detection], dict[str, int]]:
    """Detect ban events in a batch of articles; returns detections and outcome counts.

    News detections carry the model's calibrated confidence; those below `min_confidence` are
    dropped, but with `join_confidence` an article with no news keeps its most probable
    candidate at or above it as a weak detection that may only add a source to an existing
    event (`decide`, `novelty.Sourcing.start_confidence`). `feed_countries` maps a feed name to
    its country (config `[[feeds]] country`): a domestic outlet's "the government" with no
    country named is that country's. `model` is the packaged detector model unless given
    (config `detect.model_path`). `decider="rules"` keeps the rules' own verdicts and hand-set
    confidence instead (config `detect.decider`). With `pool` (worker processes), candidates are
    found there (`enrich.detect.parallel`); the results are the same.
    """
    catalogue = catalogue or default_catalogue()
    model = model or load_model() if decider == "model" else None
    counts = {"articles": len(articles), "with_candidates": 0, "candidates": 0, "errors": 0}
    items: list[ArticleCandidates] = []
    for article, found in zip(
        articles, find_all(jobs(articles, feed_countries), catalogue, pool), strict=True
    ):
        if found is None:
            counts["errors"] += 1
        elif found:
            counts["with_candidates"] += 1
            counts["candidates"] += len(found)
            items.append(ArticleCandidates(article.article_id, article.title, found))
    batch = featurize(items)
    if model is None:  # the rules decide: their picks, with their own confidence
        kept = [k.detection for item in items for k in item.candidates if k.rule_keep]
        detections = [d for d in kept if d.background or d.confidence >= min_confidence]
        news = sum(not d.background for d in detections)
        decided = {"news": news, "mentions": len(detections) - news}
        decided["rejected"] = counts["candidates"] - len(detections)
    else:
        probability = model.probability(feature_matrix(batch.named, model.names))
        detections, decided = decide(
            items, batch, probability, min_confidence, join_confidence=join_confidence
        )
    counts.update(decided)
    logger.info(
        "detected %s news events and %s background mentions in %s articles "
        "(%s with candidates, %s candidates rejected)",
        counts["news"],
        counts["mentions"],
        counts["articles"],
        counts["with_candidates"],
        counts["rejected"],
    )
    return detections, counts
