"""Quality bench for ban-event detection on a labelled set (format: /work/shared/eval/README.md).

    python -m bench.eval_events --mode article                     # fast: detector only
    python -m bench.eval_events --mode e2e                         # the real pipeline
    python -m bench.eval_events --mode article --details           # every miss and false alarm
    python -m bench.eval_events --mode e2e --eval-dir eval-fulltext --min-confidence 0.8

`--eval-dir` takes a path or a set's name: eval, eval-fulltext (the shared sets, found beside
the repository in ../shared, else /work/shared), devset, holdout (in bench/).

article mode runs `detect_text` over the headline and the text of every article (lead, plus
the body paragraphs where the set has a `body` column) and resolves events with
`enrich.novelty` exactly as the load step does, each article first seen when it was published.

e2e mode serves the set from a loopback `Newsroom` (phase 1, then phase 2; pages whose text is
the lead then the body paragraphs, the lead as the feed description), runs `banwatch run
--replay` after each phase against an aiosmtpd sink, and scores every event the warehouse holds
(ban_events, plus ban_event_candidates where that view exists) and, apart, the events that got
an email (exactly 1 per gold event, 0 otherwise). `score_e2e` does this for any subset of the
rows (one cross-validation fold).

The labelled sets are for MEASURING only: never copy their rows into tests, never add a rule for
one row. Scoring lives in `bench/scoring.py`, the pipeline harness in `bench/harness.py`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import inspect
import logging
import os
import re
import tempfile
import time
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from banwatch.enrich.apps import AppCatalogue

from banwatch.config import DetectSettings
from bench.harness import FeedEntry, read_events, run_banwatch, write_config
from bench.scoring import (
    Evaluation,
    GoldEvent,
    PredictedEvent,
    evaluate,
    load_gold,
    restrict_gold,
)

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
RECENCY_DAYS = 14  # as the e2e config: alerts.recency_days
# Candidates below `detect.min_confidence` but at or above `detect.join_confidence` add a source
# to an event surer detections started, as in the pipeline; $BANWATCH_JOIN_CONFIDENCE overrides
# the config's default (1 turns it off).
JOIN_CONFIDENCE = float(
    os.environ.get("BANWATCH_JOIN_CONFIDENCE", DetectSettings().join_confidence)
)
# Articles with no news reading of their own count as sources of their story's event, as the
# pipeline does with `events.story_sources` (default on); $BANWATCH_STORY_SOURCES=0 turns it off.
STORY_SOURCES = os.environ.get("BANWATCH_STORY_SOURCES", "1") != "0"
BODY_SEPARATOR = " || "
LOCAL_SETS = {"devset": REPO / "bench" / "devset", "holdout": REPO / "bench" / "holdout"}
SHARED_SETS = {"eval": "eval", "eval-fulltext": "eval-fulltext"}


def shared_dir() -> Path | None:
    """The shared folder: $BANWATCH_SHARED, else `shared/` beside the clone (as CI lays it
    out), else /work/shared; None where the machine has none."""
    env = os.environ.get("BANWATCH_SHARED")
    for candidate in (Path(env) if env else None, REPO.parent / "shared", Path("/work/shared")):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


def resolve_eval_dir(value: str | Path) -> Path:
    """A set's folder from a path or a name (eval, eval-fulltext, devset, holdout)."""
    path = Path(value)
    if (path / "events.csv").is_file():
        return path
    name = str(value).removeprefix("shared-")
    if name in LOCAL_SETS:
        return LOCAL_SETS[name]
    shared = shared_dir()
    if name in SHARED_SETS and shared is not None:
        return shared / SHARED_SETS[name]
    raise SystemExit(
        f"no labelled set at {value!r}: give a folder with events.csv and articles.tsv"
    )


def _published(row: dict[str, str]) -> dt.datetime:
    return dt.datetime.fromisoformat(row["published"].replace("Z", "+00:00"))


def paragraphs(row: dict[str, str]) -> list[str]:
    """The article's paragraphs: the lead's, then the body's (`body` column, ' || '-joined)."""
    out = [p.strip() for p in row["lead"].split("\n") if p.strip()]
    out += [p.strip() for p in (row.get("body") or "").split(BODY_SEPARATOR) if p.strip()]
    return out


def article_text(row: dict[str, str]) -> str:
    """What extraction would give for the page: its paragraphs, one per line."""
    return "\n".join(paragraphs(row))


def _status(event, alerts_min_confidence: float | None) -> str:
    """The event's status as the warehouse stores it (the detector's own where it has one)."""
    status = getattr(event, "status", None)
    if status:
        return status
    if alerts_min_confidence is not None and event.confidence < alerts_min_confidence:
        return "candidate"
    return "historical" if event.historical else "news"


def article_mode(
    articles: list[dict[str, str]],
    min_confidence: float = 0.2,
    catalogue=None,
    *,
    alerts_min_confidence: float | None = None,
    model_path: str = "",
    decider: str = "model",
) -> tuple[list[PredictedEvent], float]:
    """Detect on headline + text with `detect_ban_events` (the learned model unless `decider`
    is "rules"), then resolve events exactly as the load step does (`enrich.novelty`), each
    article first seen when it was published (`--replay`). Returns the events (with their
    status) and the CPU seconds spent. On the sets the packaged model was fitted on this is a
    training score: `bench/crossval.py` gives the cross-validated one."""
    from banwatch.enrich.detect import detect_ban_events, load_model

    from banwatch.records import Article

    rows = sorted(articles, key=_published)
    started = time.process_time()
    batch = [
        Article(
            row["item_id"],
            row["item_id"],
            row["outlet"],
            row["headline"],
            article_text(row),
            _published(row),
            language=row["lang"],
        )  # fmt: skip
        for row in rows
    ]
    detections, _counts = detect_ban_events(
        batch,
        catalogue=catalogue,
        min_confidence=min_confidence,
        model=load_model(model_path) if decider == "model" else None,
        decider=decider,
        join_confidence=JOIN_CONFIDENCE if JOIN_CONFIDENCE < min_confidence else None,
    )
    stories = story_ids(batch) if STORY_SOURCES and batch else None
    events = events_from_detections(
        detections, rows, alerts_min_confidence, start_confidence=min_confidence, stories=stories
    )
    return events, time.process_time() - started


def story_ids(articles: list) -> dict[str, str]:
    """Article id -> story id from the real stories step over these articles (one pass, the
    default `[dedupe]` and `[embed]` settings), as the load step would pass it to novelty."""
    from banwatch.enrich.dedupe import NewArticles, StoredArticles, dedupe_stories
    from banwatch.enrich.embed import embed_texts, embedder_from
    from banwatch.enrich.story_index import signature_of

    from banwatch.config import DedupeSettings, EmbedSettings
    from banwatch.errors import BanwatchError

    settings = DedupeSettings()
    matrix = embed_texts([a.lead for a in articles], embedder_from(EmbedSettings()))
    new = NewArticles(
        [a.article_id for a in articles],
        [a.published_at for a in articles],
        matrix,
        [signature_of(a.title, a.text, a.language) for a in articles],
    )

    def group(decider: str) -> list:
        return dedupe_stories(
            new,
            StoredArticles.empty(matrix.shape[1]),
            threshold=settings.threshold,
            window_days=settings.window_days,
            now=max(a.published_at for a in articles),
            model_languages=settings.model_languages,
            decider=decider,
        )[0]

    try:
        assigned = group(settings.decider)
    except BanwatchError as exc:  # a pair model being retrained: the hand rules still group
        print(f"stories: {exc}; grouped with decider 'rules'")
        assigned = group("rules")
    return {a.article_id: a.story_id for a in assigned}


def events_from_detections(
    detections: list,
    rows: list[dict[str, str]],
    alerts_min_confidence: float | None = None,
    *,
    start_confidence: float = 0.0,
    stories: dict[str, str] | None = None,
) -> list[PredictedEvent]:
    """Resolve detections into events exactly as the load step does (`enrich.novelty`), each
    article first seen when it was published, and tag each event with its rows."""
    by_id = {row["item_id"]: row for row in rows}
    resolution = _resolve(detections, rows, alerts_min_confidence, start_confidence, stories)
    sources: dict[str, set[str]] = defaultdict(set)
    for src in resolution.sources:
        sources[src.event_id].add(src.article_id)
    events = []
    for e in resolution.new_events:
        ev = PredictedEvent(
            e.country, e.subdivision, e.app, e.scope, e.action, e.announced_on,
            e.confidence, e.evidence, status=_status(e, alerts_min_confidence),
            event_id=e.event_id,
        )  # fmt: skip
        _attach(ev, sources[e.event_id], by_id)
        events.append(ev)
    return events


def _resolve(
    detections: list,
    rows: list[dict[str, str]],
    alerts_min_confidence: float | None,
    start_confidence: float = 0.0,
    stories: dict[str, str] | None = None,
):
    """`enrich.novelty` over the detections, each article first seen when it was published."""
    from banwatch.enrich.novelty import Sourcing, inherit_scopes, resolve_events

    policy = Sourcing(start_confidence=start_confidence, stories=stories or {})
    extra: dict[str, Any] = {"policy": policy}
    if (
        alerts_min_confidence is not None
        and "min_confidence" in inspect.signature(resolve_events).parameters
    ):
        extra["min_confidence"] = alerts_min_confidence
    return resolve_events(
        inherit_scopes(detections, {}),
        {},
        seen_at={r["item_id"]: _published(r) for r in rows},
        recency_days=RECENCY_DAYS,
        urls={r["item_id"]: r["item_id"] for r in rows},
        outlets={r["item_id"]: r["outlet"] for r in rows},
        **extra,
    )


def _attach(ev: PredictedEvent, article_ids: set[str], by_id: dict[str, dict[str, str]]) -> None:
    for article_id in article_ids:
        row = by_id.get(article_id)
        if row:
            ev.article_ids.add(row["item_id"])
            ev.languages.add(row["lang"])
            ev.labels.add(row["label"])


def source_count_line(report, articles: list[dict[str, str]]) -> str:
    """How often a matched event's source_count (distinct outlets of the articles whose
    detections resolved to it) equals the gold one (distinct outlets of its labelled articles)."""
    outlet = {a["item_id"]: a["outlet"] for a in articles}
    low = high = exact = 0
    for g, p in report.matches:
        want = len({outlet[i] for i in g.article_ids if i in outlet})
        got = len({outlet[i] for i in p.article_ids if i in outlet})
        exact += got == want
        low += got < want
        high += got > want
    n = len(report.matches)
    return (
        f"source_count exact for {exact}/{n} matched events ({exact / max(n, 1):.2f}); "
        f"too low {low}, too high {high}"
    )


# --- why source counts are low (--sources) ---------------------------------------------------


@dataclass
class _Seen:
    """What the detector and novelty made of one article: its detections (after the floor),
    every candidate with its probability (before it), and the events it became a source of."""

    detections: list = field(default_factory=list)
    candidates: list[tuple[Any, float]] = field(default_factory=list)
    events: set[str] = field(default_factory=set)
    paths: dict[str, str] = field(default_factory=dict)  # event id -> how it became a source
    story: str = ""


def _key_of(d) -> tuple[str, str, str, str, str]:
    return (str(d.country), d.subdivision or "", str(d.app), str(d.scope), str(d.action))


def _differs(key: tuple[str, ...], gold: tuple[str, ...]) -> str:
    """The first field in which a detection differs from the gold event: which kind of miss."""
    if key[:3] != gold[:3]:
        return "jurisdiction/app"
    if key[3] != gold[3]:
        return "scope"
    if key[4] != gold[4]:
        return "action"
    return "date"


def _seen_articles(
    rows: list[dict[str, str]], min_confidence: float, alerts: float | None, model_path: str
) -> tuple[dict[str, _Seen], dict[str, Any]]:
    """Run the detector twice (the pipeline's floor, and every candidate's probability) and
    novelty once; returns what each article became and the resolved events by id."""
    from banwatch.enrich.detect import detect_ban_events, find_candidates, load_model
    from banwatch.enrich.detect.decide import ArticleCandidates, featurize
    from banwatch.enrich.detect.features import feature_matrix

    from banwatch.records import Article

    model = load_model(model_path)
    seen: dict[str, _Seen] = defaultdict(_Seen)
    items = []
    for row in rows:
        found = find_candidates(
            row["headline"], article_text(row), _published(row),
            article_id=row["item_id"], language=row["lang"],
        )  # fmt: skip
        items.append(ArticleCandidates(row["item_id"], row["headline"], found))
    batch = featurize(items)
    probability = model.probability(feature_matrix(batch.named, model.names))
    for (i, j), prob in zip(batch.where, probability, strict=True):
        seen[items[i].article_id].candidates.append((items[i].candidates[j], float(prob)))
    articles = [
        Article(r["item_id"], r["item_id"], r["outlet"], r["headline"], article_text(r),
                _published(r), language=r["lang"])
        for r in rows
    ]  # fmt: skip
    detections, _ = detect_ban_events(
        articles,
        min_confidence=min_confidence,
        model=model,
        join_confidence=JOIN_CONFIDENCE if JOIN_CONFIDENCE < min_confidence else None,
    )
    for d in detections:
        seen[d.article_id].detections.append(d)
    stories = story_ids(articles) if STORY_SOURCES else None
    resolution = _resolve(detections, rows, alerts, min_confidence, stories)
    for src in resolution.sources:
        seen[src.article_id].events.add(src.event_id)
        seen[src.article_id].paths[src.event_id] = _path_of(src, min_confidence)
    for article_id, story in (stories or {}).items():
        seen[article_id].story = story
    return seen, {e.event_id: e for e in resolution.new_events}


def _path_of(src, start_confidence: float) -> str:
    """How an article became a source: its own detection, a weak one, or its story (a story
    mate's source has no evidence of its own)."""
    if not src.evidence and src.confidence == 0.0:
        return "story mate"
    if src.confidence < start_confidence:
        return f"weak detection p={src.confidence:.2f}"
    return f"own detection p={src.confidence:.2f}"


def _why_missed(
    seen: _Seen, gold_key: tuple[str, ...], events: dict[str, Any], owners: dict[str, str]
) -> tuple[str, str]:
    """(cause, detail) of a gold source article missing from its matched event."""
    news = [d for d in seen.detections if not d.background]
    if seen.events:
        parts = []
        for event_id in sorted(seen.events):
            e = events[event_id]
            parts.append(f"{_key_of(e)} {e.announced_on} -> {owners.get(event_id, 'false alarm')}")
        kinds = sorted({_differs(_key_of(d), gold_key) for d in news})
        return "other event: " + "+".join(kinds), "; ".join(parts)
    if seen.detections:
        same = any(_key_of(d)[:3] == gold_key[:3] for d in seen.detections)
        return ("background" if same else "background, other app/jurisdiction"), ", ".join(
            f"{_key_of(d)} {d.announced_on}" for d in seen.detections
        )
    same_key = [(c, p) for c, p in seen.candidates if _key_of(c.detection) == gold_key]
    if same_key:
        c, prob = max(same_key, key=lambda cp: cp[1])
        bg = " (rules: background)" if c.detection.background else ""
        return "below detect.min_confidence" + bg, f"p={prob:.2f} {c.detection.evidence[:90]}"
    if seen.candidates:
        c, prob = max(seen.candidates, key=lambda cp: cp[1])
        return "only other-key candidates", f"{_key_of(c.detection)} p={prob:.2f}"
    return "no candidate at all", ""


def source_lines(
    report, articles: list[dict[str, str]], *, model_path: str = "", alerts: float | None = None
) -> list[str]:
    """For each matched event with too few sources (distinct outlets), each gold source article
    whose outlet is not counted and what became of it, then the tally of causes."""
    detect_floor, alerts_default = default_thresholds()
    seen, events = _seen_articles(
        articles, detect_floor, alerts_default if alerts is None else alerts, model_path
    )
    rows = {a["item_id"]: a for a in articles}
    owners = {p.event_id: g.event_id for g, p in report.matches}
    causes: Counter[str] = Counter()
    out = ["-- source articles missing from matched events (--sources)"]
    for g, p in report.matches:
        counted = {rows[i]["outlet"] for i in p.article_ids if i in rows}
        missing = sorted(i for i in g.article_ids if i in rows and rows[i]["outlet"] not in counted)
        if not missing:
            continue
        out.append(f"  EVENT {g.event_id} {g.key} {g.announced_on}: {len(missing)} missing")
        for article_id in missing:
            cause, detail = _why_missed(seen[article_id], g.key, events, owners)
            causes[cause] += 1
            story = seen[article_id].story
            mates = sorted(
                i for i in g.article_ids if i != article_id and story and seen[i].story == story
            )
            out.append(
                f"    {article_id} [{rows[article_id]['label']}] {cause} | {detail}"
                f" | story with gold {mates or 'none'}"
            )
    out.append(
        "missing source articles by cause: "
        + ", ".join(f"{c} {n}" for c, n in causes.most_common())
    )
    return out + extra_source_lines(report, rows, seen)


def extra_source_lines(
    report, rows: dict[str, dict[str, str]], seen: dict[str, _Seen]
) -> list[str]:
    """For each matched event with too many sources (distinct outlets), each article of an
    outlet the gold event does not have: its label and gold event, and how it became a source
    (own detection, weak detection, story mate: with the story's sources of the gold event)."""
    paths: Counter[str] = Counter()
    out = ["-- source articles of outlets the gold event lacks (--sources, too high)"]
    for g, p in report.matches:
        wanted = {rows[i]["outlet"] for i in g.article_ids if i in rows}
        extra = sorted(i for i in p.article_ids if i in rows and rows[i]["outlet"] not in wanted)
        if not extra:
            continue
        out.append(f"  EVENT {g.event_id} {g.key} {g.announced_on}: {len(extra)} extra")
        for article_id in extra:
            row, s = rows[article_id], seen[article_id]
            path = s.paths.get(p.event_id, "?")
            paths[path.split(" p=")[0]] += 1
            mates = sorted(
                i for i in g.article_ids if i != article_id and s.story and seen[i].story == s.story
            )
            own = ", ".join(f"{_key_of(d)}{' bg' if d.background else ''}" for d in s.detections)
            out.append(
                f"    {article_id} [{row['label']} {row['event_id'] or '-'}] {path}"
                f" | story with gold {mates or 'none'} | own: {own or 'none'}"
            )
    out.append(
        "extra source articles by path: " + ", ".join(f"{c} {n}" for c, n in paths.most_common())
    )
    return out


def _catalogue_apps() -> set[str]:
    from banwatch.enrich.apps import default_catalogue

    return set(default_catalogue().apps)


def default_thresholds() -> tuple[float, float | None]:
    """The pipeline's defaults: `[detect] min_confidence` (detections below it are dropped) and
    `[alerts] min_confidence` (events below it are candidates; None where config lacks it)."""
    from banwatch.config import AlertSettings, DetectSettings

    return DetectSettings().min_confidence, getattr(AlertSettings(), "min_confidence", None)


def score_articles(
    articles: list[dict[str, str]],
    gold: list[GoldEvent],
    *,
    min_confidence: float | None = None,
    alerts_min_confidence: float | None = None,
    model_path: str = "",
) -> Evaluation:
    """Article mode over these rows, scored against the gold events they show; thresholds
    left out are the pipeline's defaults (`default_thresholds`), as in e2e mode."""
    detect_default, alerts_default = default_thresholds()
    predicted, seconds = article_mode(
        articles,
        detect_default if min_confidence is None else min_confidence,
        alerts_min_confidence=alerts_default
        if alerts_min_confidence is None
        else alerts_min_confidence,
        model_path=model_path,
    )
    gold = restrict_gold(gold, articles)
    return evaluate(
        "article", predicted, gold, articles, seconds=seconds, in_catalogue=_catalogue_apps()
    )


def _same_app(written: str, canonical: str) -> bool:
    """An app outside the catalogue is reported by the name news used ("PUBG" for "PUBG
    Mobile"): it counts when one name contains the other or they share a word."""
    w, c = written.casefold(), canonical.casefold()
    words = {x for x in re.findall(r"[\w.]+", w) if len(x) >= 3}
    return w in c or c in w or bool(words & set(re.findall(r"[\w.]+", c)))


def outside_catalogue(
    articles: list[dict[str, str]], gold: list[GoldEvent], min_confidence: float = 0.5
) -> tuple[int, int, list[str]]:
    """Recall on apps the catalogue does not know, estimated by leaving each app out in turn.

    The labelled set's apps are all in the built-in catalogue, so for each gold app the bench
    removes it (with its aliases) from the catalogue and runs article mode over the articles
    about it. A gold event is found when a prediction has its country, subdivision, scope and
    action and names the app recognisably (`_same_app`).
    """
    from banwatch.enrich.apps import default_catalogue

    full = default_catalogue()
    found, total, misses = 0, 0, []
    for app in sorted({g.app for g in gold}):
        events = [g for g in gold if g.app == app]
        ids = set().union(*(g.article_ids for g in events))
        rows = [r for r in articles if r["item_id"] in ids]
        without = AppCatalogue.from_entries(a for a in full.apps.values() if a.name != app)
        predicted, _ = article_mode(rows, min_confidence, catalogue=without)
        for g in events:
            total += 1
            hit = any(
                (p.country, p.subdivision or "", p.scope, p.action)
                == (g.country, g.subdivision or "", g.scope, g.action)
                and _same_app(p.app, g.app)
                for p in predicted
            )
            found += hit
            if not hit:
                near = sorted({p.app for p in predicted}) or ["nothing"]
                misses.append(f"  OUTSIDE MISS {g.event_id} {g.key} | found {', '.join(near)}")
    return found, total, misses


# --- end to end ------------------------------------------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>
<meta property="article:published_time" content="{published}"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<article><h1>{title}</h1><p class="byline">{outlet} staff</p>
{paragraphs}
</article><footer>(c) {outlet}</footer></body></html>
"""


def _news_items(rows: list[dict[str, str]]) -> list:
    """One page per row. The feed description is the lead; where the set has no body the lead
    is the whole text, so only its first 300 characters go in the feed, as a teaser would."""
    from tests.support.newsroom import NewsItem

    items = []
    for row in rows:
        page = _PAGE.format(
            lang=row["lang"],
            title=html.escape(row["headline"]),
            published=row["published"],
            outlet=html.escape(row["outlet"]),
            paragraphs="\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs(row)),
        )
        items.append(
            NewsItem(
                outlet=_outlet_slug(row["outlet"]),
                slug=row["item_id"],
                title=row["headline"],
                summary=row["lead"] if row.get("body") else row["lead"][:300],
                published=_published(row),
                html=page,
            )
        )
    return items


def _outlet_slug(outlet: str) -> str:
    """A URL path segment for an outlet name: "Le Veilleur Numérique" -> "le-veilleur-numerique"."""
    ascii_name = unicodedata.normalize("NFKD", outlet).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "outlet"


def _slug(url: str | None) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].split(".")[0] if url else ""


def e2e_mode(
    articles: list[dict[str, str]],
    *,
    model_path: str = "",
    alerts_min_confidence: float | None = None,
) -> tuple[list[PredictedEvent], float]:
    """Serve the rows, run `banwatch run --replay` per phase, read every event and its emails.

    `model_path` / `alerts_min_confidence` go into the generated config (`[detect]
    model_path`, `[alerts] min_confidence`) when given. Returns the events (status and
    emails set) and the wall seconds.
    """
    from tests.support.mailsink import MailSink
    from tests.support.newsroom import Newsroom

    by_phase: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in articles:
        by_phase[row["phase"]].append(row)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp, MailSink() as sink, Newsroom() as newsroom:
        phases = sorted(by_phase)
        outlets = sorted({_outlet_slug(r["outlet"]) for r in articles})
        newsroom.open_outlets(outlets)  # an outlet's feed exists before its first story
        config = write_config(
            Path(tmp) / "banwatch.toml",
            Path(tmp),
            [FeedEntry(o, newsroom.feed_url(o)) for o in outlets],
            sink.port,
            recency_days=RECENCY_DAYS,
            model_path=model_path,
            alerts_min_confidence=alerts_min_confidence,
        )
        for phase in phases:
            newsroom.add(_news_items(by_phase[phase]))
            print(f"phase {phase}: {run_banwatch(config, replay=True)}")
        stored = read_events(Path(tmp) / "bw.duckdb", list(sink.messages))
        # alert emails as the replayed timeline sends them (harness.read_events explains)
        emails = sum(e.emails for e in stored)
    by_slug = {r["item_id"]: r for r in articles}
    events = []
    for s in stored:
        ev = PredictedEvent(
            s.country, s.subdivision, s.app, s.scope, s.action, s.announced_on, s.confidence,
            s.evidence, emails=s.emails, status=s.status,
        )  # fmt: skip
        _attach(ev, {_slug(u) for u in s.source_urls}, by_slug)
        events.append(ev)
    print(f"emails sent: {emails}")
    return events, time.time() - started


def score_e2e(
    articles: list[dict[str, str]],
    gold: list[GoldEvent],
    *,
    model_path: str = "",
    alerts_min_confidence: float | None = None,
) -> Evaluation:
    """e2e mode over these rows (a whole set or one cross-validation fold), scored against the
    gold events they show: ALL events and EMAILED events apart, emails per gold event."""
    predicted, seconds = e2e_mode(
        articles, model_path=model_path, alerts_min_confidence=alerts_min_confidence
    )
    gold = restrict_gold(gold, articles)
    return evaluate(
        "e2e",
        predicted,
        gold,
        articles,
        seconds=seconds,
        emails=sum(p.emails for p in predicted),
        in_catalogue=_catalogue_apps(),
    )


def main(argv: list[str] | None = None) -> Evaluation:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("article", "e2e"), default="article")
    parser.add_argument(
        "--eval-dir",
        default="eval",
        help="a set's folder, or eval / eval-fulltext / devset / holdout",
    )
    parser.add_argument("--details", action="store_true", help="list misses and false alarms")
    parser.add_argument(
        "--sources",
        action="store_true",
        help="article mode: why matched events have too few sources (each missing article)",
    )
    parser.add_argument("--model", default="", help="detector model file ([detect] model_path)")
    parser.add_argument(
        "--min-confidence",
        type=float,
        default=None,
        help="alerting threshold ([alerts] min_confidence); below it an event is a candidate",
    )
    parser.add_argument(
        "--outside",
        action="store_true",
        help="also estimate recall on apps outside the catalogue (leave each app out in turn)",
    )
    args = parser.parse_args(argv)
    eval_dir = resolve_eval_dir(args.eval_dir)
    gold, articles = load_gold(eval_dir)
    print(f"set {eval_dir}")
    if args.mode == "article":
        result = score_articles(
            articles, gold, alerts_min_confidence=args.min_confidence, model_path=args.model
        )
    else:
        result = score_e2e(
            articles, gold, model_path=args.model, alerts_min_confidence=args.min_confidence
        )
    for line in result.lines(details=args.details):
        print(line)
    print(source_count_line(result.all, articles))
    if args.sources and args.mode == "article":
        print("\n".join(source_lines(result.all, articles, model_path=args.model,
                                     alerts=args.min_confidence)))  # fmt: skip
    if args.outside:
        found, total, misses = outside_catalogue(articles, gold)
        print(
            f"recall on apps left out of the catalogue (leave-one-app-out, article mode): "
            f"{found}/{total} = {found / max(total, 1):.3f}"
        )
        if args.details:
            print("\n".join(misses))
    return result


if __name__ == "__main__":
    main()
