"""Score predicted ban events against gold events, as banwatch's users would judge them.

`score(predicted, gold)` matches a predicted event to a gold event on (country, subdivision,
app, scope, action); where several gold events share those (a ban re-imposed, two EU
institutions), the nearest announced_on decides. The report has event precision / recall /
F1, field accuracy, false alarms per negative label, per-language recall, recall on apps
outside the catalogue, precision per confidence band, and every miss and false alarm with its
evidence. It knows nothing about how the predictions were made (article mode or end to end).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = ("country", "subdivision", "app", "scope", "action")
BANDS = ((0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.01))
NEGATIVE_LABELS = (
    "not_ban_app_news",
    "company_ban",
    "other_ban",
    "opinion_or_call",
    "background_only",
    "platform_action",
)


@dataclass
class GoldEvent:
    event_id: str
    jurisdiction: str
    country: str
    subdivision: str | None
    app: str
    scope: str
    action: str
    announced_on: dt.date
    article_ids: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.country, self.subdivision or "", self.app, self.scope, self.action)


@dataclass
class PredictedEvent:
    country: str
    subdivision: str | None
    app: str
    scope: str
    action: str
    announced_on: dt.date | None
    confidence: float
    evidence: str
    article_ids: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)  # labels of the articles behind it
    emails: int = 0  # alert emails sent for it (e2e mode)
    status: str = "news"  # news | candidate | historical (as the warehouse would store it)
    event_id: str = ""  # the resolved event's id where known (article mode)

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        # plain strings: the records' vocabularies are StrEnums, whose repr the report would show
        return (
            str(self.country),
            self.subdivision or "",
            str(self.app),
            str(self.scope),
            str(self.action),
        )


@dataclass
class Report:
    tp: int
    fp: int
    fn: int
    field_accuracy: dict[str, float]
    field_support: int
    false_alarms_by_label: dict[str, int]
    negative_articles_by_label: dict[str, int]
    recall_by_language: dict[str, tuple[int, int]]
    outside_catalogue_recall: tuple[int, int]
    precision_by_band: dict[str, tuple[int, int]]
    misses: list[tuple[GoldEvent, PredictedEvent | None]]
    false_alarms: list[PredictedEvent]
    field_errors: list[tuple[GoldEvent, PredictedEvent, list[str]]]
    matches: list[tuple[GoldEvent, PredictedEvent]] = field(default_factory=list)

    def email_lines(self) -> list[str]:
        """Emails per gold event (each must get exactly one) and for anything else (none)."""
        per_gold = Counter(p.emails for _g, p in self.matches)
        per_gold[0] += self.fn
        wrong = [(g, p) for g, p in self.matches if p.emails != 1]
        out = [
            "emails per gold event: "
            + ", ".join(f"{n} email(s) x{c}" for n, c in sorted(per_gold.items()))
            + f"; emails for non-events: {sum(p.emails for p in self.false_alarms)}"
        ]
        out += [
            f"  EMAIL {g.event_id} {g.key} got {p.emails} emails | {p.evidence[:100]}"
            for g, p in wrong
        ]
        return out

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def lines(self, *, details: bool = True) -> list[str]:
        out = [
            f"events: precision {self.precision:.3f}  recall {self.recall:.3f}  "
            f"F1 {self.f1:.3f}  (tp {self.tp}, fp {self.fp}, fn {self.fn})",
            "field accuracy over events aligned by source articles "
            f"(n={self.field_support}): "
            + ", ".join(f"{k} {v:.3f}" for k, v in self.field_accuracy.items()),
            "false alarms per negative label: "
            + ", ".join(
                f"{k} {self.false_alarms_by_label.get(k, 0)}/{n}"
                for k, n in sorted(self.negative_articles_by_label.items())
            ),
            "recall by language: "
            + ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(self.recall_by_language.items())),
            "recall on apps outside the catalogue: "
            f"{self.outside_catalogue_recall[0]}/{self.outside_catalogue_recall[1]}"
            + (
                " (every gold app is catalogued; --outside leaves each out in turn)"
                if not self.outside_catalogue_recall[1]
                else ""
            ),
            "precision by confidence band: "
            + ", ".join(f"{k} {c}/{n}" for k, (c, n) in self.precision_by_band.items()),
        ]
        if details:
            out.append(f"-- misses ({len(self.misses)})")
            for g, near in self.misses:
                got = f" | nearest prediction {near.key} {near.announced_on}" if near else ""
                out.append(f"  MISS {g.event_id} {g.key} {g.announced_on}{got}")
            out.append(f"-- false alarms ({len(self.false_alarms)})")
            for p in self.false_alarms:
                out.append(
                    f"  FA {p.key} {p.announced_on} conf {p.confidence:.2f} "
                    f"labels {sorted(p.labels)} {sorted(p.article_ids)[:3]} | {p.evidence[:140]}"
                )
            out.append(f"-- field errors ({len(self.field_errors)})")
            for g, p, wrong in self.field_errors:
                out.append(
                    f"  FIELD {g.event_id} wrong {wrong}: gold {g.key} {g.announced_on}"
                    f" / got {p.key} {p.announced_on}"
                )
        return out


def load_gold(eval_dir: str | Path) -> tuple[list[GoldEvent], list[dict[str, str]]]:
    """Gold events (with their articles and languages) and the article rows."""
    eval_dir = Path(eval_dir)
    with (eval_dir / "events.csv").open(encoding="utf-8", newline="") as fh:
        gold = {
            row["event_id"]: GoldEvent(
                event_id=row["event_id"],
                jurisdiction=row["jurisdiction"],
                country=row["country"],
                subdivision=row["subdivision"] or None,
                app=row["app"],
                scope=row["scope"],
                action=row["action"],
                announced_on=dt.date.fromisoformat(row["announced_on"]),
            )
            for row in csv.DictReader(fh)
        }
    articles = load_articles(eval_dir / "articles.tsv")
    for a in articles:
        if a["event_id"] in gold:
            gold[a["event_id"]].article_ids.add(a["item_id"])
            gold[a["event_id"]].languages.add(a["lang"])
    # events no article reports cannot be detected from this set: not scored
    return [g for g in gold.values() if g.article_ids], articles


def restrict_gold(gold: Iterable[GoldEvent], articles: Sequence[dict[str, str]]) -> list[GoldEvent]:
    """The gold events a subset of the articles (one cross-validation fold) can show.

    Each kept event keeps only the articles of the subset (and their languages); an event
    none of whose articles is in the subset is dropped, as `load_gold` drops unreported ones.
    """
    rows = {a["item_id"]: a for a in articles}
    kept = []
    for g in gold:
        ids = g.article_ids & rows.keys()
        if ids:
            langs = {rows[i]["lang"] for i in ids}
            kept.append(dataclasses.replace(g, article_ids=set(ids), languages=langs))
    return kept


def load_articles(path: str | Path) -> list[dict[str, str]]:
    """articles.tsv rows (tab-separated, no quoting)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]


def _band(conf: float) -> str:
    for lo, hi in BANDS:
        if lo <= conf < hi:
            return f"[{lo:.1f},{min(hi, 1.0):.1f})"
    return "<0.5"


def score(
    predicted: Sequence[PredictedEvent],
    gold: Sequence[GoldEvent],
    *,
    negative_articles: Iterable[str] = (),
    in_catalogue: Iterable[str] = (),
) -> Report:
    """Match predictions to gold events and compute the report.

    `negative_articles` are the labels of all negative articles (to count per label);
    `in_catalogue` the canonical app names of the built-in catalogue.
    """
    matched_p, matched_g = _match(predicted, gold)
    tp = len(matched_g)
    fp_list = [p for i, p in enumerate(predicted) if i not in matched_p]
    aligned = _align(predicted, gold)
    acc, errors = _field_accuracy(aligned)
    fa_by_label: Counter[str] = Counter()
    for p in fp_list:
        for label in p.labels & set(NEGATIVE_LABELS):
            fa_by_label[label] += 1
    by_lang, outside = _recall_by_language(predicted, gold, matched_g, set(in_catalogue))
    aligned_by_gold = {g.event_id: p for g, p in aligned}
    misses = [
        (g, aligned_by_gold.get(g.event_id)) for gi, g in enumerate(gold) if gi not in matched_g
    ]
    return Report(
        tp=tp,
        fp=len(fp_list),
        fn=len(gold) - tp,
        field_accuracy=acc,
        field_support=len(aligned),
        false_alarms_by_label=dict(fa_by_label),
        negative_articles_by_label=dict(Counter(negative_articles)),
        recall_by_language=by_lang,
        outside_catalogue_recall=outside,
        precision_by_band=_precision_by_band(predicted, matched_p),
        misses=misses,
        false_alarms=fp_list,
        field_errors=errors,
        matches=[(gold[gi], predicted[pi]) for gi, pi in sorted(matched_g.items())],
    )


def _match(
    predicted: Sequence[PredictedEvent], gold: Sequence[GoldEvent]
) -> tuple[dict[int, int], dict[int, int]]:
    """(prediction -> gold, gold -> prediction) indices: equal keys, the nearest announced_on
    first, then the most shared articles (two EU institutions the same day)."""
    pairs: list[tuple[int, int, int, int]] = []
    for pi, p in enumerate(predicted):
        for gi, g in enumerate(gold):
            if p.key == g.key:
                gap = abs((p.announced_on - g.announced_on).days) if p.announced_on else 10_000
                pairs.append((gap, -len(p.article_ids & g.article_ids), pi, gi))
    pairs.sort()
    matched_p: dict[int, int] = {}
    matched_g: dict[int, int] = {}
    for _gap, _shared, pi, gi in pairs:
        if pi in matched_p or gi in matched_g:
            continue
        matched_p[pi] = gi
        matched_g[gi] = pi
    return matched_p, matched_g


def _align(
    predicted: Sequence[PredictedEvent], gold: Sequence[GoldEvent]
) -> list[tuple[GoldEvent, PredictedEvent]]:
    """Each gold event with the prediction built from most of its articles (independent of the
    key match, so a wrong scope shows as a scope error)."""
    aligned: list[tuple[GoldEvent, PredictedEvent]] = []
    for g in gold:
        best = max(
            predicted,
            key=lambda p, g=g: (len(p.article_ids & g.article_ids), p.key == g.key),
            default=None,
        )
        if best is not None and best.article_ids & g.article_ids:
            aligned.append((g, best))
    return aligned


def _field_ok(f: str, g: GoldEvent, p: PredictedEvent) -> bool:
    if f == "announced_on":
        return p.announced_on is not None and abs((p.announced_on - g.announced_on).days) <= 3
    if f == "subdivision":
        return (p.subdivision or "") == (g.subdivision or "")
    return getattr(p, f) == getattr(g, f)


def _field_accuracy(
    aligned: list[tuple[GoldEvent, PredictedEvent]],
) -> tuple[dict[str, float], list[tuple[GoldEvent, PredictedEvent, list[str]]]]:
    """Accuracy of each field over the aligned events, and each aligned pair's wrong fields."""
    acc: dict[str, float] = {}
    wrong_by_pair: dict[int, list[str]] = defaultdict(list)
    for f in (*FIELDS, "announced_on"):
        ok = 0
        for i, (g, p) in enumerate(aligned):
            good = _field_ok(f, g, p)
            ok += good
            if not good:
                wrong_by_pair[i].append(f)
        acc[f] = ok / len(aligned) if aligned else 0.0
    errors = [(aligned[i][0], aligned[i][1], wrong) for i, wrong in sorted(wrong_by_pair.items())]
    return acc, errors


def _recall_by_language(
    predicted: Sequence[PredictedEvent],
    gold: Sequence[GoldEvent],
    matched_g: dict[int, int],
    catalogue: set[str],
) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """(found, total) per language of the gold articles, and for apps outside the catalogue."""
    by_lang: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    outside = [0, 0]
    for gi, g in enumerate(gold):
        hit = gi in matched_g
        hit_langs = predicted[matched_g[gi]].languages if hit else set()
        for lang in g.languages:
            by_lang[lang][1] += 1
            by_lang[lang][0] += lang in hit_langs
        if g.app not in catalogue:
            outside[1] += 1
            outside[0] += hit
    return {k: (v[0], v[1]) for k, v in by_lang.items()}, (outside[0], outside[1])


def _precision_by_band(
    predicted: Sequence[PredictedEvent], matched_p: dict[int, int]
) -> dict[str, tuple[int, int]]:
    """(matched, predicted) per confidence band."""
    bands: dict[str, list[int]] = {_band(lo): [0, 0] for lo, _hi in BANDS}
    for pi, p in enumerate(predicted):
        b = bands.setdefault(_band(p.confidence), [0, 0])
        b[1] += 1
        b[0] += pi in matched_p
    return {k: (v[0], v[1]) for k, v in bands.items()}


@dataclass
class Evaluation:
    """One bench run scored twice: over ALL events the warehouse holds (news, candidates,
    historical: what an analyst can find) and over the ALERTED ones (e2e: the events that got
    an email; article mode: those the alert step would email, status 'news')."""

    mode: str
    articles: int
    all: Report
    alerted: Report
    status_counts: dict[str, int]
    seconds: float
    emails: int | None = None  # emails sent (e2e mode only)

    @property
    def gold(self) -> int:
        return self.all.tp + self.all.fn

    def figures(self) -> dict[str, float]:
        """The figures the quality gate compares (rounded to 4 places)."""
        r = self.all
        out = {"precision": r.precision, "recall": r.recall, "f1": r.f1}
        out |= {f"accuracy_{k}": v for k, v in r.field_accuracy.items()}
        out |= {
            "alerted_precision": self.alerted.precision,
            "alerted_recall": self.alerted.recall,
            "alerted_f1": self.alerted.f1,
        }
        if self.emails is not None:
            once = sum(1 for _g, p in r.matches if p.emails == 1)
            stray = sum(p.emails for p in r.false_alarms)
            out["gold_emailed_once"] = once / self.gold if self.gold else 0.0
            out["emails_per_gold_event"] = (
                sum(p.emails for _g, p in r.matches) / self.gold if self.gold else 0.0
            )
            out["non_event_emails_per_100_articles"] = 100 * stray / max(self.articles, 1)
        return {k: round(v, 4) for k, v in out.items()}

    def lines(self, *, details: bool = False) -> list[str]:
        statuses = ", ".join(f"{k} {n}" for k, n in sorted(self.status_counts.items()))
        emails = f", {self.emails} emails" if self.emails is not None else ""
        alerted = (
            "EMAILED events (those that got an alert email)"
            if self.emails is not None
            else "ALERTABLE events (status news: what the alert step would email)"
        )
        a = self.alerted
        out = [
            f"mode {self.mode}: {self.articles} articles, {self.gold} gold events, "
            f"events by status: {statuses or 'none'}{emails}, {self.seconds:.2f} s",
            "ALL events (ban_events + ban_event_candidates where that view exists):",
            *("  " + line for line in self.all.lines(details=details)),
            f"{alerted}: precision {a.precision:.3f}  recall {a.recall:.3f}  F1 {a.f1:.3f}  "
            f"(tp {a.tp}, fp {a.fp}, fn {a.fn})",
            "  false alarms per negative label: "
            + ", ".join(
                f"{k} {a.false_alarms_by_label.get(k, 0)}/{n}"
                for k, n in sorted(a.negative_articles_by_label.items())
            ),
            "  recall by language: "
            + ", ".join(f"{k} {h}/{n}" for k, (h, n) in sorted(a.recall_by_language.items())),
        ]
        if self.emails is not None:
            out += ["  " + line for line in self.all.email_lines()]
            f = self.figures()
            out.append(
                f"  emails per gold event {f['emails_per_gold_event']:.3f} (ideal 1), "
                f"gold events emailed exactly once {f['gold_emailed_once']:.3f}, "
                "emails for non-events per 100 articles "
                f"{f['non_event_emails_per_100_articles']:.2f}"
            )
        return out


def evaluate(
    mode: str,
    predicted: Sequence[PredictedEvent],
    gold: Sequence[GoldEvent],
    articles: Sequence[dict[str, str]],
    *,
    seconds: float = 0.0,
    emails: int | None = None,
    in_catalogue: Iterable[str] = (),
) -> Evaluation:
    """Score `predicted` against `gold` over the given article rows (a whole set or a fold)."""
    catalogue = set(in_catalogue)
    negatives = [a["label"] for a in articles if a["label"] in NEGATIVE_LABELS]
    if emails is None:
        alerted = [p for p in predicted if p.status == "news"]
    else:
        alerted = [p for p in predicted if p.emails > 0]
    return Evaluation(
        mode=mode,
        articles=len(articles),
        all=score(predicted, gold, negative_articles=negatives, in_catalogue=catalogue),
        alerted=score(alerted, gold, negative_articles=negatives, in_catalogue=catalogue),
        status_counts=dict(Counter(p.status for p in predicted)),
        seconds=seconds,
        emails=emails,
    )
