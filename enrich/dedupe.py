"""Group coverage of one real-world development into a story, within a time window.

Forty outlets publish the same ban the same day; analysts want one story behind them. A new
article joins the story of the most similar earlier article (new or already stored) that the
grouping decision (`may_join`) accepts and that was published within the window; otherwise it
starts a story. Greedy single-link assignment in publication order is deterministic, so
re-running a batch gives the same story ids.

What the embedding can be trusted with depends on the language. all-MiniLM-L6-v2 is an English
model: texts in other languages get vectors that sit close together whatever they say (unrelated
Turkish news pages reach cosine 0.76, Japanese ones 0.63). So two articles join on the embedding
alone only when both are in a language the model understands (`model_languages`, English by
default; "*" for a multilingual model). Otherwise other evidence is needed: in one language, the
same places and apps named or much the same title words; across languages, only the same places
and apps (names survive translation, words do not).

Each article has a *signature* (`story_signature`): the countries and apps named in its title and
first sentence, the action its title states (ban, proposed, lifted), its title's content words
and its language. It is plain JSON, computed once
per article and stored with it. Signatures also veto joins (`_conflict`): different apps,
places that do not nest, different actions ("X blocks the app" and "X restores the app" two
days later are two developments); a story's places, apps and actions are the union of its
members'. With `decider="model"` (the default, `dedupe.decider`) a learned pair decision
(`enrich.story_pairs`) may also accept a pair `may_join` refuses; the vetoes hold either way.
How it works and its figures: docs/stories.md (`python -m bench.eval_dedupe`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from banwatch.enrich.story_pairs import PairModel, load_pair_model, pair_features

from banwatch.errors import BanwatchError
from banwatch.records import StoryAssignment

logger = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

SIGNATURE_VERSION = 1
ALL_LANGUAGES = "*"  # in `model_languages`: a multilingual model, trusted in every language
ENGLISH_ONLY: frozenset[str] = frozenset({"en"})

# A signature as stored with its article: plain JSON, what `story_signature` returns.
SignatureJSON = dict[str, Any]

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
_WORD = re.compile(r"\w+", re.UNICODE)
PAIR_BATCH = 16  # candidates scored per call of the learned pair decision
MIN_CONTENT_CHARS = 4  # title words this long carry content in most languages ("the", "und" do not)


@dataclass(frozen=True)
class JoinRule:
    """The grouping decision's thresholds (fitted by cross-validation in bench/eval_dedupe.py).

    `threshold`: cosine at which two articles in a language the model understands join on the
    embedding alone. `entity_threshold`: cosine at which they join when they also name the same
    places and apps. `foreign_threshold`: cosine floor for a join on other evidence (shared places
    and apps, or title words) where the embedding is not trusted. `title_overlap`: Jaccard of two
    same-language titles' content words that counts as evidence.
    """

    threshold: float = 0.55
    entity_threshold: float = 0.5
    foreign_threshold: float = 0.1
    title_overlap: float = 0.5
    nested_places: bool = True
    action_veto: bool = True

    @property
    def floor(self) -> float:
        """No rule joins below this cosine: candidates under it need not be looked at."""
        return min(self.threshold, self.entity_threshold, self.foreign_threshold)


@dataclass(frozen=True)
class Signature:
    """A signature's sets, ready for comparison (`Signature.of(story_signature(...))`)."""

    places: frozenset[str] = frozenset()
    apps: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()  # a story's may hold several; an article one at most
    words: frozenset[str] = frozenset()  # content words of the title
    language: str | None = None

    @classmethod
    def of(cls, value: SignatureJSON | Signature | None) -> Signature:
        if value is None:  # stored before signatures were: trusted, no veto, as grouping was
            return UNSIGNED
        if isinstance(value, Signature):
            return value
        action = value.get("action")
        return cls(
            frozenset(value.get("places", ())),
            frozenset(value.get("apps", ())),
            frozenset([action] if action else ()),
            frozenset(value.get("words", ())),
            value.get("language"),
        )

    def union(self, other: Signature) -> Signature:
        """A story's veto sets: its members' places, apps and actions together."""
        return Signature(
            self.places | other.places,
            self.apps | other.apps,
            self.actions | other.actions,
            language=self.language,
        )


NO_SIGNATURE = Signature()
UNSIGNED = Signature(language="en")


def _first_sentence(text: str) -> str:
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0][:400]


def _title_words(title: str) -> list[str]:
    return sorted(
        {w for w in _WORD.findall(title.casefold()) if len(w) >= MIN_CONTENT_CHARS or w.isdigit()}
    )


def story_signature(title: str, text: str, language: str | None = None) -> SignatureJSON:
    """What grouping compares besides the embedding, as plain JSON to store with the article.

    Places (countries, subdivisions) and apps named in the title and first sentence; the action
    the title states (else the first sentence); the title's content words (and numbers); the
    language (ISO 639-1, None when unknown).
    """
    from banwatch.enrich.actors import find_actors
    from banwatch.enrich.apps import default_catalogue
    from banwatch.enrich.detect.candidates import (
        _trigger,  # the detector's own action cue of a clause
    )

    first = _first_sentence(text)
    head = f"{title}. {first}"
    places = {
        (a.subdivision if a.level == "subnational" else None) or a.country
        for a in find_actors(head)
        if a.country
    }
    apps = {m.app for m in default_catalogue().find(head) if not m.generic}
    cue = _trigger(title) or (_trigger(first) if first else None)
    return {
        "v": SIGNATURE_VERSION,
        "language": language,
        "places": sorted(places),
        "apps": sorted(apps),
        "action": cue[0] if cue else None,
        "words": _title_words(title),
    }


def signature_to_json(signature: SignatureJSON) -> str:
    """The text to store (compact, keys sorted: the same signature is the same string)."""
    return json.dumps(signature, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def signature_from_json(value: str | SignatureJSON | None) -> SignatureJSON | None:
    """A stored signature back (None for an article stored without one)."""
    if value is None or isinstance(value, dict):
        return value
    return json.loads(value)


def _conflict(a: Signature, b: Signature, rule: JoinRule | None = None) -> bool:
    """Different developments, however alike the words.

    Both name apps and share none; both name places and share none (with `nested_places`: one
    names a place the other does not, and the other one the first does not: "Canberra bans the
    app" and "Ottawa bans the app" both name the app's home country too); with `action_veto`,
    both state an action and share none ("blocks" and "restores").
    """
    rule = rule or JoinRule()
    if a.apps and b.apps and not (a.apps & b.apps):
        return True
    if a.places and b.places:
        if rule.nested_places:
            if not (a.places <= b.places or b.places <= a.places):
                return True
        elif not (a.places & b.places):
            return True
    return rule.action_veto and bool(a.actions and b.actions and not (a.actions & b.actions))


def understood(language: str | None, model_languages: Collection[str]) -> bool:
    """Does the embedding model understand this language? Unknown languages are not trusted."""
    return ALL_LANGUAGES in model_languages or (language or "") in model_languages


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def may_join(
    cosine: float,
    a: Signature,
    b: Signature,
    rule: JoinRule,
    model_languages: Collection[str] = ENGLISH_ONLY,
) -> bool:
    """May article `a` join article `b`'s story on this evidence? (vetoes are checked apart)

    The embedding alone decides only where the model understands both languages; the same
    places and apps lower the bar; elsewhere the evidence must be the same places and apps or,
    in one language, much the same title words.
    """
    same_entities = bool(a.places & b.places) and bool(a.apps & b.apps)
    if understood(a.language, model_languages) and understood(b.language, model_languages):
        if cosine >= rule.threshold:
            return True
        return same_entities and cosine >= rule.entity_threshold
    if cosine < rule.foreign_threshold:
        return False
    if same_entities:
        return True
    return a.language == b.language and _jaccard(a.words, b.words) >= rule.title_overlap


@dataclass(frozen=True)
class StoredArticles:
    """Already-stored articles that new ones may join (from the warehouse).

    `signatures` are the stored `story_signature` values (JSON dicts, or `Signature`s), one per
    article; without them no veto applies to stored articles and they count as English.
    """

    article_ids: Sequence[str]
    story_ids: Sequence[str]
    published: Sequence[dt.datetime | None]
    matrix: np.ndarray  # unit-normalised rows
    signatures: Sequence[SignatureJSON | Signature | None] = field(default_factory=list)

    @classmethod
    def empty(cls, dim: int) -> StoredArticles:
        return cls([], [], [], np.zeros((0, dim), dtype=np.float32))

    def signature(self, j: int) -> Signature:
        return Signature.of(self.signatures[j]) if self.signatures else UNSIGNED


@dataclass(frozen=True)
class NewArticles:
    """The batch being grouped, in one order: ids, dates (None: first seen `now`), their
    unit-normalised embeddings and signatures (`story_signature`; None: similarity alone
    decides and every article counts as English)."""

    article_ids: Sequence[str]
    published: Sequence[dt.datetime | None]
    matrix: np.ndarray
    signatures: Sequence[SignatureJSON | Signature | None] | None = None


def story_id_for(article_id: str) -> str:
    """A story is named after its first article, so ids are stable across re-runs."""
    return "s-" + hashlib.sha1(article_id.encode()).hexdigest()[:14]


def _seconds(when: dt.datetime | None, fallback: dt.datetime) -> float:
    return ((when or fallback) - _EPOCH).total_seconds()


def dedupe_stories(
    new: NewArticles,
    stored: StoredArticles,
    *,
    threshold: float,
    window_days: float,
    now: dt.datetime,
    rule: JoinRule | None = None,
    model_languages: Collection[str] = ENGLISH_ONLY,
    decider: str | PairModel = "model",
) -> tuple[list[StoryAssignment], dict[str, int]]:
    """Assign each new article to a story; returns assignments and counts.

    `new.matrix` rows are the new articles' unit-normalised embeddings, in `new.article_ids`
    order. Articles without a date count as published `now` (when they were first seen).
    `new.signatures` (see `story_signature`) carry languages, vetoes and the evidence
    non-English articles need; without them similarity alone decides (every article counts as
    English).
    `rule` holds the decision's thresholds (`threshold` overrides its cosine threshold);
    `model_languages` the languages the embedding model understands ({"*"} for all).
    `decider`: "rules" (`may_join`), "model" (a pair joins when `may_join` or the learned pair
    decision of `enrich.story_pairs` accepts it), or a `PairModel`; `_conflict`'s vetoes hold
    for every decider.
    """
    article_ids, published, matrix, signatures = (
        new.article_ids,
        new.published,
        new.matrix,
        new.signatures,
    )
    n = len(article_ids)
    if n == 0:
        return [], {"articles": 0, "new_stories": 0, "joined_stored": 0, "joined_new": 0}
    rule = JoinRule(threshold=threshold, **_rest(rule))
    model = _pair_model(decider)
    sig = [Signature.of(s) for s in signatures] if signatures is not None else [UNSIGNED] * n
    window = window_days * 86400.0
    floor = min(model.floor, rule.floor) if model is not None else rule.floor
    order = sorted(range(n), key=lambda i: (_seconds(published[i], now), article_ids[i]))
    n_old = len(stored.article_ids)
    times = np.array(
        [_seconds(p, now) for p in stored.published]
        + [_seconds(published[i], now) for i in range(n)]
    )
    # Similarities of every new article to stored ones and to the other new ones, in one go:
    # columns [0, n_old) are stored articles, [n_old, n_old + n) the new ones.
    sims_all = matrix @ np.vstack([stored.matrix.reshape(n_old, matrix.shape[1]), matrix]).T
    old_sig: dict[int, Signature] = {}  # stored signatures, converted when first needed

    def signature_of(k: int) -> Signature:
        if k >= n_old:
            return sig[k - n_old]
        if k not in old_sig:
            old_sig[k] = stored.signature(k)
        return old_sig[k]

    # A story's vetoes are its members' together: "TikTok barred from ministers' phones" (no
    # country) joining the UK story must not let a Canadian story chain in through it.
    story_sig: dict[str, Signature] = {}
    for j, sid in enumerate(stored.story_ids):
        story_sig[sid] = story_sig.get(sid, NO_SIGNATURE).union(signature_of(j))
    story_of: dict[int, str] = {}
    eligible = np.zeros(n_old + n, dtype=bool)  # stored articles, and new ones once assigned
    eligible[:n_old] = True
    counts = {"articles": n, "new_stories": 0, "joined_stored": 0, "joined_new": 0}
    assignments: list[StoryAssignment] = []
    for i in order:
        # Candidates in the window and above the decision's floor, most similar first: the
        # first one the decision accepts is the most similar acceptable one.
        sims = sims_all[i]
        ok = eligible & (sims >= floor) & (np.abs(times - times[n_old + i]) <= window)
        cands = np.flatnonzero(ok)
        cands = cands[np.argsort(-sims[cands], kind="stable")]
        accepted = np.zeros(len(cands), dtype=bool)
        best: tuple[float, str, bool] | None = None
        for c, k in enumerate(cands):
            if model is not None and c % PAIR_BATCH == 0:  # pair scores a batch at a time:
                # the first acceptable candidate usually comes early (a scan may hold thousands)
                batch = cands[c : c + PAIR_BATCH]
                accepted[c : c + len(batch)] = model.accepts(
                    [
                        pair_features(
                            float(sims[j]),
                            times[j] - times[n_old + i],
                            sig[i],
                            signature_of(j),
                            model_languages,
                        )
                        for j in batch
                    ]
                )
            old = bool(k < n_old)
            sid = stored.story_ids[k] if old else story_of[k - n_old]
            # The vetoes hold whatever the decider; the model adds joins to the rules' own.
            if not _conflict(sig[i], story_sig[sid], rule) and (
                bool(accepted[c])
                or may_join(float(sims[k]), sig[i], signature_of(k), rule, model_languages)
            ):
                best = (float(sims[k]), sid, old)
                break
        eligible[n_old + i] = True
        if best is not None:
            similarity, sid, from_stored = best
            story_of[i] = sid
            story_sig[sid] = story_sig[sid].union(sig[i])
            counts["joined_stored" if from_stored else "joined_new"] += 1
            assignments.append(StoryAssignment(article_ids[i], sid, round(similarity, 4)))
        else:
            story_of[i] = story_id_for(article_ids[i])
            story_sig[story_of[i]] = NO_SIGNATURE.union(sig[i])
            counts["new_stories"] += 1
            assignments.append(StoryAssignment(article_ids[i], story_of[i], 1.0))
    logger.info(
        "stories: %d articles, %d new stories, %d joined stored, %d joined new",
        n,
        counts["new_stories"],
        counts["joined_stored"],
        counts["joined_new"],
    )
    return assignments, counts


def _pair_model(decider: str | PairModel) -> PairModel | None:
    """The learned pair decision to use, or None for the rules."""
    if decider == "rules":
        return None
    if decider == "model":
        return load_pair_model()
    if isinstance(decider, PairModel):
        return decider
    raise BanwatchError(f"dedupe.decider must be 'model' or 'rules', not {decider!r}")


def _rest(rule: JoinRule | None) -> dict[str, Any]:
    """A rule's settings other than the cosine threshold (the defaults without a rule)."""
    fields = dataclasses.asdict(rule or JoinRule())
    fields.pop("threshold")
    return fields
