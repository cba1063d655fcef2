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
import functools
import hashlib
import itertools
import json
import logging
import re
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from banwatch.enrich.blas import one_thread
from banwatch.enrich.story_pairs import PairModel, load_pair_model, pair_features

from banwatch.errors import BanwatchError
from banwatch.records import StoryAssignment

logger = logging.getLogger(__name__)

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

# 2: + weak_places, comment; 3: + company, lifting announced, EU institutions as nested places,
# demonym actors ("Indian officials") as places; 4: + the lead's names (a pair feature, no veto).
# Older signatures still read (Signature.of).
SIGNATURE_VERSION = 4
ALL_LANGUAGES = "*"  # in `model_languages`: a multilingual model, trusted in every language
ENGLISH_ONLY: frozenset[str] = frozenset({"en"})

# A signature as stored with its article: plain JSON, what `story_signature` returns.
SignatureJSON = dict[str, Any]

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
_WORD = re.compile(r"\w+", re.UNICODE)
# A title labelled as comment or background ("Opinion: …", "Explainer: …", "Tribune : …"): not
# the report of a development, whatever it discusses.
_COMMENT = re.compile(
    r"\s*(?:opinion|op-?ed|comment(?:ary)?|column|editorial|explainer|analysis|factbox|"
    r"fact ?check|q ?& ?a|viewpoint|tribune|chronique|[ée]ditorial|[ée]dito|point de vue|"
    r"opini[óo]n|opini[ãa]o|tribuna|artigo|columna|an[áa]lisis|an[áa]lise|editoriale|commento|"
    r"kommentar|meinung|gastbeitrag|analyse|leitartikel|glosse|standpunt|ledare|kronikk)"
    r"\s*[:|–—]",
    re.IGNORECASE,
)
# A return or lifting the detector's cue may not know, or reads as not yet done ("to lift the
# ban", "available again"): for grouping, a lifting announced or sought is on the lifting side
# of a situation, a development apart from the ban. Signature-only: the detector keeps its cues.
_RETURN = re.compile(
    r"\b(?:unban\w*|un-ban\w*|u-turn|backtrack\w*|"
    r"(?:available|accessible|online|working|usable|allowed) (?:again|once more)|"
    r"again (?:available|accessible|online|allowed)|comes? back|coming back|back online|"
    r"(?:eas|relax|loosen)(?:e|es|ed|ing|s)? (?:(?:the|its|a) )?(?:ban|block|restrictions?)|"
    r"(?:lift|lifting|lifted|end|ending|ended|scrap|scrapping|scrapped)(?: [\w'’-]+){0,3}? "
    r"(?:ban|block|suspension|restrictions?)|"
    r"wieder (?:erlaubt|zugelassen|online|verfügbar|erreichbar|freigegeben|aufrufbar)|"
    r"(?:à|de) nouveau (?:autoris\w*|accessible|disponible)|"
    r"(?:ban|block|suspension|restrictions?)\b[^.]{0,25}?\b(?:is |was |are )?(?:reversed|eased|"
    r"relaxed|scrapped|dropped|withdrawn)|revers(?:es|ed|ing) (?:itself|himself|herself|course)|"
    r"fin (?:de|del|da|do)\b[^.]{0,30}?\b(?:restrict\w*|blocage|bloqueo|bloqueio|suspens\w*|"
    r"interdi\w*|prohibici\w*)|marcha atr[aá]s|(?:deja|dejar|deixa|deixar) sin efecto|"
    r"sin efecto|vuelve|regresa|volt(?:a|ar|ou) a|torna (?:a|online|disponibile))\b",
    re.IGNORECASE,
)
# ... unless refused or denied ("refuses to lift the ban", "will not end the block").
_REFUSED = re.compile(
    r"\b(?:refus\w*|reject\w*|won'?t|will not|not|no plans? to|rules? out|den(?:y|ies|ied)|"
    r"nicht|kein\w*|pas|ne|no)\b[^.]{0,25}$",
    re.IGNORECASE,
)
# An app or company leaving a market of its own accord: a company's step, not a state's ban.
_EXIT = re.compile(
    r"\b(?:pull(?:s|ed|ing)? out of|exit(?:s|ed|ing)?|withdr[ae]w(?:s|n|ing)? from|"
    r"quit(?:s|ting)?|(?:suspend|halt|stop|end|cease)(?:s|ed|ing)? (?:its )?"
    r"(?:service|services|operations|sales)|stops? operating|geo-?block\w*)\b",
    re.IGNORECASE,
)
# A participle right after the app ("DeepSeek banned in Italy", "X blocked by court"): the
# headline's passive, the app is what is acted on.
_PASSIVE = re.compile(r"(?:ed|en|\bbarred|\bshut)$|(?:is|are|was|were|be|been|gets?|got)\s+\S+$")
# An organisation's rule for its own people or systems (with no state named).
_OWN_STAFF = re.compile(
    r"\b(?:employees'?|its (?:own )?(?:corporate|company|internal))\b", re.IGNORECASE
)
# ... but a government's people are a state's ("City Hall orders staff…", "civil servants").
_PUBLIC_STAFF = re.compile(
    r"\b(?:governments?|ministers?|ministr\w+|officials|city|state|federal|public|civil|council|"
    r"hall|agenc\w+|department|parliament\w*|military|army|navy|police)\b",
    re.IGNORECASE,
)
# A lifting only sought or bargained for ("in a bid to end the block", "talks to lift"): not
# the lifting itself (the detector's cue keeps its reading of the clause).
_SOUGHT = re.compile(
    r"\b(?:bids?|seek\w*|sought|hop\w*|wants?|talks|conditions?|push\w*|urg\w*|calls?|"
    r"demand\w*|appeal\w*|asks?|asked|efforts?|aim\w*|tr(?:y|ies|ied)|lobb\w*|pledg\w*|"
    r"negotiat\w*|petition\w*|sues?|sued)\b(?:\s+\S+){0,3}?\s*$",
    re.IGNORECASE,
)
# The subject that opens a title: a capitalised word, maybe with a possessive.
_SUBJECT = re.compile(r"\s*([A-Z][\w&.-]+)")
_NOT_NAMES = frozenset(
    {"the", "a", "an", "hundreds", "dozens", "some", "many", "more", "top", "big"}
)
# A capital directly before another capitalised word is a first name or part of a name.
_FIRST_NAME = re.compile(
    r" (?!(?:City|Court|District|Regional|Municipal|Government|Police|State|Metropolitan)\b)"
    r"[A-Z][a-z]"
)
# A demonym directly before a government noun names that government ("Indian officials").
DEMONYM_ACTOR_GAP = 2  # characters between the demonym and the body: a space, maybe "'s"
# EU institutions as places nested in the EU: two institutions are two actors, either nests in
# a story that names only "the EU".
_EU_PLACES = {
    "European Commission": "EU-COM",
    "European Parliament": "EU-EP",
    "Council of the European Union": "EU-CONS",
}
# The lead the pair features read: what the stories index signs again from a stored article
# (`warehouse.read.article_leads` keeps the first 600 characters of text).
LEAD_CHARS = 600
MAX_LEAD_NAMES = 24  # a signature stays small: the first names of the lead are enough
# A name in running text: a capitalised word (or an acronym) not opening a sentence. A word
# opening a paragraph after a bare line break still counts (leaving it out scored no better).
_NAME = re.compile(r"(?<![.!?:;\n]\s)(?<!^)\b[^\W\d_][\w'’-]*", re.UNICODE)
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
    weak_places: frozenset[str] = frozenset()  # of `places`, those known only from a demonym
    comment: bool = False  # the title is labelled opinion, comment or explainer
    company: bool = False  # the action stated is a company's or the app's own, not a state's
    # Who takes the stated actions: "state" and / or "company" (a story may hold both), and the
    # companies named as acting ("JPMorgan restricts…", "Verizon blocks…": two developments).
    sides: frozenset[str] = frozenset()
    companies: frozenset[str] = frozenset()
    # v4, for the pair features only (no veto; a story's union leaves them out): the names of
    # the lead's first `LEAD_CHARS` (capitalised words of running text, casefolded; with no
    # text, or read from an older signature: the title's words).
    lead_names: frozenset[str] = frozenset()

    @property
    def strong_places(self) -> frozenset[str]:
        """Places named as places: "Chinese app" names no place that vetoes a join."""
        return self.places - self.weak_places

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
            frozenset(value.get("weak_places", ())),
            bool(value.get("comment", False)),
            bool(value.get("company", False)),
            frozenset((("company" if value.get("company") else "state"),) if action else ()),
            frozenset(value.get("companies", ())),
            # before v4: the title's words stand in, as for an article with no text
            frozenset(value.get("lead_names", value.get("words", ()))),
        )

    def union(self, other: Signature) -> Signature:
        """A story's veto sets: its members' places, apps and actions together."""
        strong = self.strong_places | other.strong_places
        return Signature(
            self.places | other.places,
            self.apps | other.apps,
            self.actions | other.actions,
            language=self.language,
            weak_places=(self.weak_places | other.weak_places) - strong,
            comment=self.comment or other.comment,
            company=self.company or other.company,
            sides=self.sides | other.sides,
            companies=self.companies | other.companies,
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

    Places (countries, subdivisions, EU institutions) and apps named in the title and first
    sentence; the action the title states (else the first sentence) and whether a company or
    the app itself takes it; the title's content words (and numbers); the names of the lead's
    first `LEAD_CHARS` (for the learned pair decision: the part of the text a stored article is
    signed again from); the language (ISO 639-1, None when unknown).
    """
    from banwatch.enrich.apps import default_catalogue

    first = _first_sentence(text)
    head = f"{title}. {first}"
    named = _places(head)
    apps = {m.app for m in default_catalogue().find(head) if not m.generic}
    action, company, who = _action(title)
    if action is None and first:
        action, company, who = _action(first)
    words = _title_words(title)
    return {
        "v": SIGNATURE_VERSION,
        "language": language,
        "places": sorted(named),
        "weak_places": sorted(p for p, strong in named.items() if not strong),
        "apps": sorted(apps),
        "action": action,
        "company": company,
        "companies": [who] if who else [],
        "words": words,
        "comment": bool(_COMMENT.match(title)),
        # no text (a feed item's title alone): its title's words stand in, so that a title-only
        # copy does not look like a stranger to the pair decision
        "lead_names": _lead_names(lead) if (lead := text.strip()[:LEAD_CHARS]) else words,
    }


def _lead_names(lead: str) -> list[str]:
    """Capitalised words of running text (not a sentence's first word), casefolded: people,
    bodies and places, which mostly survive translation where the other words do not."""
    found: dict[str, None] = {}
    for m in _NAME.finditer(lead):
        word = m.group()
        if word[0].isupper() and len(word) >= MIN_CONTENT_CHARS - 1:
            found.setdefault(word.casefold())
            if len(found) >= MAX_LEAD_NAMES:
                break
    return sorted(found)


def _places(head: str) -> dict[str, bool]:
    """Place -> named as a place, not only as a demonym ("Chinese app" names the app's home;
    "Chinese regulators" name the state acting). EU institutions are places within the EU."""
    from banwatch.enrich.actors import find_actors

    actors = find_actors(head)
    bodies = [a.start for a in actors if a.kind == "body"]
    long_words = [w for w in head.split() if len(w) >= MIN_CONTENT_CHARS and w[0].isalpha()]
    title_case = sum(w[0].isupper() for w in long_words) > 0.6 * len(long_words)
    named: dict[str, bool] = {}
    for a in actors:
        if not a.country:
            continue
        if a.kind == "eu" and a.jurisdiction in _EU_PLACES:
            place = _EU_PLACES[a.jurisdiction]
        else:
            place = (a.subdivision if a.level == "subnational" else None) or a.country
        strong = a.kind != "demonym" or any(0 < b - a.end <= DEMONYM_ACTOR_GAP for b in bodies)
        if (
            a.kind == "capital"
            and not title_case
            and _FIRST_NAME.match(head, a.end)
            and a.end + 1 not in bodies
        ):
            strong = False  # "Santiago Pedraz", "Victoria Beckham": a person, not the state
        named[place] = named.get(place, False) or strong
    return named


def _action(clause: str) -> tuple[str | None, bool, str | None]:
    """(action, by a company, the company's name) of a clause: the detector's own cue
    (`_trigger`), a lifting announced or sought counted as a lifting, and whether a company
    acts rather than a state: a company named or a company noun before the cue ("banks
    block…"), or a rule for its own staff, with no state or state body before the cue. An app
    before the cue is not enough: "Instagram goes dark in Russia" reports the state's block."""
    from banwatch.enrich import lexicon as lx
    from banwatch.enrich.actors import find_actors
    from banwatch.enrich.apps import default_catalogue
    from banwatch.enrich.detect.candidates import _COMPANY_NAMES, _trigger

    cue = _trigger(clause)
    if cue is None and (exit_ := _EXIT.search(clause)):
        named = [m for m in default_catalogue().find(clause[: exit_.start()]) if not m.generic]
        return (
            ("ban", True, _company_name(clause[: exit_.start()])) if named else (None, False, None)
        )
    back = _RETURN.search(clause)
    if back and (_REFUSED.search(clause[: back.start()]) or _SOUGHT.search(clause[: back.start()])):
        back = None
    if back and (cue is None or cue[0] != "lifted") and not _still_banned(clause):
        return "lifted", False, None
    if cue is None:
        return None, False, None
    action, trig = cue
    if _PASSIVE.search(clause[: trig.end()]):
        return action, False, None
    head = clause[: trig.start()]
    if any(a.end <= trig.start() and (a.country or a.kind == "body") for a in find_actors(clause)):
        return action, False, None  # a state or one of its bodies before the cue acts
    own_staff = _OWN_STAFF.search(clause) and not _PUBLIC_STAFF.search(clause)
    # "Acme bars the app as firms tighten rules": a named subject, not an app, with firms about
    apps_before = [m for m in default_catalogue().find(head) if not m.generic]
    firms = (
        lx.COMPANY.search(clause)
        and not _PUBLIC_STAFF.search(clause)
        and not apps_before
        and _company_name(head) is not None
    )
    company = bool(_COMPANY_NAMES.search(head) or lx.COMPANY.search(head) or own_staff or firms)
    return action, bool(company), _company_name(head) if company else None


def _company_name(head: str) -> str | None:
    """The capitalised name that opens a company's action ("Verizon blocks…"), casefolded;
    None when the subject is a common noun ("Hundreds of companies…", "The firm…")."""
    m = _SUBJECT.match(head)
    return m.group(1).casefold() if m and m.group(1).casefold() not in _NOT_NAMES else None


def _still_banned(clause: str) -> bool:
    """A return that is not one: the ban restored, or the app kept blocked."""
    from banwatch.enrich import lexicon as lx

    return bool(lx.STILL_BLOCKED.search(clause)) or any(
        lx.REIMPOSE.match(clause, m.start()) for m in lx.LIFT.finditer(clause)
    )


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

    Both name apps and share none; the places do not nest (`_places_conflict`); with
    `action_veto`, one states a ban (or proposes one) and the other its lifting ("blocks" and
    "restores"): a proposal and its enactment are often one development within days; a comment
    or explainer is no report of a development.
    """
    rule = rule or JoinRule()
    if a.apps and b.apps and not (a.apps & b.apps):
        return True
    if _places_conflict(a, b, rule.nested_places):
        return True
    if a.comment != b.comment:
        return True  # an opinion piece is no report of the development (copies: `_copy_only`)
    if a.sides and b.sides and not (a.sides & b.sides):
        return True  # a company's own step and a state's ban are two developments
    if a.companies and b.companies and not (a.companies & b.companies):
        return True  # two companies' own steps
    return rule.action_veto and bool(
        a.actions and b.actions and not (_action_sides(a.actions) & _action_sides(b.actions))
    )


def _copy_only(a: Signature, b: Signature) -> bool:
    """An opinion piece joins only a copy of itself (the same title words). Checked pair by
    pair: a story's veto sets carry no title words, so the story-level `_conflict` cannot."""
    return a.comment and a.words != b.words


def _action_sides(actions: frozenset[str]) -> set[str]:
    """A proposed ban counts as a ban: only a ban and its lifting are told apart."""
    return {"lifted" if x == "lifted" else "ban" for x in actions}


def _with_countries(places: frozenset[str]) -> frozenset[str]:
    """A subdivision ("US-TX") also stands for its country ("US") when places are nested."""
    return places | {p.split("-", 1)[0] for p in places if "-" in p}


def _places_conflict(a: Signature, b: Signature, nested: bool) -> bool:
    """Both name places (demonyms aside: "Chinese app" names the app's home) and share none;
    with `nested`, each names a place the other does not ("Canberra bans the app" and "Ottawa
    bans the app" both name the app's home country too)."""
    pa, pb = a.strong_places, b.strong_places
    if not (pa and pb):
        return False
    if not nested:
        return not (pa & pb)
    pa, pb = _with_countries(pa), _with_countries(pb)
    return not (pa <= pb or pb <= pa)


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


def _model_may_add(a: Signature, b: Signature, model_languages: Collection[str]) -> bool:
    """May the learned decision join a pair the rules refuse? Only where the embedding is
    trusted for one of the two or they name the same app: elsewhere the model would lean on a
    cosine the English model does not mean (two unrelated German pages naming one country)."""
    trusted = understood(a.language, model_languages) or understood(b.language, model_languages)
    return trusted or bool(a.apps & b.apps)


@dataclass(frozen=True)
class StoredArticles:
    """Already-stored articles that new ones may join (from the warehouse).

    `signatures` are the stored `story_signature` values (JSON dicts, or `Signature`s), one per
    article; without them no veto applies to stored articles and they count as English.
    `reach`, when given, holds for each new article (in `NewArticles` order) the rows it may
    join: its own nearest neighbours (`enrich.story_index.reach_of`); the other rows serve only
    the stories' vetoes. Without it every new article is compared with every row, which costs
    in proportion to the whole batch's neighbourhood rather than the article's own.
    `vetoes`, when given, holds stories' veto sets as the warehouse aggregated them over all
    their members (`Signature.union` of the members' signatures): then the rows need be only
    the ones new articles may join; a story not in it gets the union of its rows here.
    """

    article_ids: Sequence[str]
    story_ids: Sequence[str]
    published: Sequence[dt.datetime | None]
    matrix: np.ndarray  # unit-normalised rows
    signatures: Sequence[SignatureJSON | Signature | None] = field(default_factory=list)
    reach: Sequence[np.ndarray] | None = None
    vetoes: Mapping[str, Signature] | None = None

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
    English). `stored.reach` limits each new article to its own stored neighbourhood.
    `rule` holds the decision's thresholds (`threshold` overrides its cosine threshold);
    `model_languages` the languages the embedding model understands ({"*"} for all).
    `decider`: "rules" (`may_join`), "model" (a pair joins when `may_join` or the learned pair
    decision of `enrich.story_pairs` accepts it), or a `PairModel`; `_conflict`'s vetoes hold
    for every decider.
    """
    n = len(new.article_ids)
    counts = {"articles": n, "new_stories": 0, "joined_stored": 0, "joined_new": 0}
    if n == 0:
        return [], counts
    rule = JoinRule(threshold=threshold, **_rest(rule))
    with one_thread():  # a small product: BLAS threads would spin more than they save
        batch = _Batch(
            new,
            stored,
            rule=rule,
            model=_pair_model(decider),
            model_languages=model_languages,
            now=now,
        )
    window = window_days * 86400.0
    assignments: list[StoryAssignment] = []
    for i in sorted(range(n), key=lambda i: (batch.times[batch.n_old + i], new.article_ids[i])):
        best = batch.best(i, window)
        if best is not None:
            similarity, sid, from_stored = best
            batch.assign(i, sid)
            counts["joined_stored" if from_stored else "joined_new"] += 1
            assignments.append(StoryAssignment(new.article_ids[i], sid, round(similarity, 4)))
        else:
            batch.assign(i, story_id_for(new.article_ids[i]))
            counts["new_stories"] += 1
            assignments.append(StoryAssignment(new.article_ids[i], batch.story_of[i], 1.0))
    logger.info(
        "stories: %d articles, %d new stories, %d joined stored, %d joined new",
        n,
        counts["new_stories"],
        counts["joined_stored"],
        counts["joined_new"],
    )
    return assignments, counts


class _Batch:
    """One call's state: similarities, signatures, the stories assigned so far.

    Columns [0, n_old) of the similarities are stored articles, [n_old, n_old + n) the new ones.
    """

    def __init__(
        self,
        new: NewArticles,
        stored: StoredArticles,
        *,
        rule: JoinRule,
        model: PairModel | None,
        model_languages: Collection[str],
        now: dt.datetime,
    ) -> None:
        n, self.n_old = len(new.article_ids), len(stored.article_ids)
        self.stored, self.rule, self.model, self.languages = stored, rule, model, model_languages
        self.sig = (
            [Signature.of(s) for s in new.signatures]
            if new.signatures is not None
            else [UNSIGNED] * n
        )
        self.floor = min(model.floor, rule.floor) if model is not None else rule.floor
        self.times = np.array(
            [_seconds(p, now) for p in stored.published] + [_seconds(p, now) for p in new.published]
        )
        dim = new.matrix.shape[1]
        self.sims = new.matrix @ np.vstack([stored.matrix.reshape(self.n_old, dim), new.matrix]).T
        self.old_sig: dict[int, Signature] = {}  # stored signatures, converted when first needed
        # A story's vetoes are its members' together: "TikTok barred from ministers' phones" (no
        # country) joining the UK story must not let a Canadian story chain in through it. Built
        # when a story is first a candidate: most stored rows' stories never are.
        self.members: dict[str, list[int]] = {}
        for j, sid in enumerate(stored.story_ids):
            self.members.setdefault(sid, []).append(j)
        self.story_sig: dict[str, Signature] = {}
        self.story_of: dict[int, str] = {}
        self.eligible = np.zeros(self.n_old + n, dtype=bool)  # new articles once assigned
        self.eligible[: self.n_old] = stored.reach is None

    def signature_of(self, k: int) -> Signature:
        if k >= self.n_old:
            return self.sig[k - self.n_old]
        if k not in self.old_sig:
            self.old_sig[k] = self.stored.signature(k)
        return self.old_sig[k]

    def story_signature(self, sid: str) -> Signature:
        if sid not in self.story_sig:
            vetoes = self.stored.vetoes
            if vetoes is not None and sid in vetoes:
                self.story_sig[sid] = vetoes[sid]
            else:
                self.story_sig[sid] = _union(
                    self.signature_of(j) for j in self.members.get(sid, ())
                )
        return self.story_sig[sid]

    def candidates(self, i: int, window: float) -> np.ndarray:
        """Candidates in the window and above the decision's floor, most similar first: the
        first one the decision accepts is the most similar acceptable one."""
        sims, eligible = self.sims[i], self.eligible
        if self.stored.reach is not None:  # only this article's own neighbourhood of stored rows
            eligible[: self.n_old] = False
            eligible[self.stored.reach[i]] = True
        ok = (
            eligible
            & (sims >= self.floor)
            & (np.abs(self.times - self.times[self.n_old + i]) <= window)
        )
        cands = np.flatnonzero(ok)
        return cands[np.argsort(-sims[cands], kind="stable")]

    def _model_accepts(self, model: PairModel, i: int, batch: list[int]) -> np.ndarray:
        t = self.times[self.n_old + i]
        return model.accepts(
            [
                pair_features(
                    float(self.sims[i, j]),
                    self.times[j] - t,
                    self.sig[i],
                    self.signature_of(j),
                    self.languages,
                )
                for j in batch
            ]
        )

    def best(self, i: int, window: float) -> tuple[float, str, bool] | None:
        """The most similar candidate the decision accepts: (cosine, its story, stored?).

        The vetoes hold whatever the decider, so they go first; then the rules (cheap); the
        learned pair decision, which adds joins to the rules', scores only the candidates left
        to it, a batch at a time. The first acceptable candidate usually comes early, so the
        vetoes too are checked only as far as the search goes.
        """
        stream = self._allowed(i, self.candidates(i, window))
        ahead: deque[tuple[int, str]] = deque()  # read ahead of the model's batch, not yet seen
        by_model: dict[int, bool] = {}
        while (item := ahead.popleft() if ahead else next(stream, None)) is not None:
            k, sid = item
            if _copy_only(self.sig[i], self.signature_of(k)):
                continue
            cosine = float(self.sims[i, k])
            if may_join(cosine, self.sig[i], self.signature_of(k), self.rule, self.languages):
                return cosine, sid, k < self.n_old
            if self.model is None:
                continue
            if k not in by_model:
                ahead.extend(itertools.islice(stream, PAIR_BATCH - 1))
                batch = [k, *(j for j, _ in ahead)]
                by_model.update(zip(batch, self._model_accepts(self.model, i, batch), strict=True))
            if by_model[k] and _model_may_add(self.sig[i], self.signature_of(k), self.languages):
                return cosine, sid, k < self.n_old
        return None

    def _allowed(self, i: int, cands: np.ndarray) -> Iterator[tuple[int, str]]:
        """The candidates no veto stops, with their stories, in order (lazily)."""
        for k in cands:
            sid = self.stored.story_ids[k] if k < self.n_old else self.story_of[k - self.n_old]
            if not _conflict(self.sig[i], self.story_signature(sid), self.rule):
                yield int(k), sid

    def assign(self, i: int, sid: str) -> None:
        self.story_of[i] = sid
        self.story_sig[sid] = self.story_signature(sid).union(self.sig[i])
        self.eligible[self.n_old + i] = True


def _union(signatures: Iterable[Signature]) -> Signature:
    """A story's veto sets from its members' signatures (`Signature.union` over all of them)."""
    return functools.reduce(Signature.union, signatures, NO_SIGNATURE)


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
