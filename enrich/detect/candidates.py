"""Government app-ban event detection: which government did what to which app, and when.

Rules over sentences, with gazetteers (`enrich.actors`, `enrich.apps`), multilingual cue
lists (`enrich.lexicon`) and date resolution (`enrich.dates`). No model is loaded.

How an article is read (title first, then the text, sentence by sentence, clause by clause):

1. A clause states an event when it has an action cue (ban / proposed / lifted) that is not
   asked for, argued for or denied ("should ban", "urges", "not a ban"), whose object is an app
   (not accounts, exports or phones in schools), and whose actor is a government, not a company
   or the app itself ("Facebook suspends ...").
2. The app is the first app after the action cue, else before it; "the video app" resolves to
   the article's main app. A multi-app action is filed under the first app named.
3. The actor is an EU institution, else the place or body in subject position, else "<X>'s
   ban", else "in <X>"; a bare "the court" or none at all resolves to the article's main actor.
4. The first event stated (headline first) is the article's news and sets its main country.
   Later events are *background* (recalled, not news) when they are dated well before
   publication, use recall cues ("already", "similar action", "follows ..."), belong to
   another country, or are an earlier state of the news's own situation. Events of other
   parts of the same state ("the Welsh Government has also banned ...") stay news.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from banwatch.records import Article, Detection
from enrich import lexicon as lx
from enrich.actors import ActorMention, country_name, find_actors, subdivision_name
from enrich.apps import CAMEL, AppCatalogue, AppMention, default_catalogue, name_near_action
from enrich.dates import find_times

logger = logging.getLogger(__name__)

RECENT_DAYS = 6  # a stated date older than this (vs publication) marks a recalled event
MAX_SENTENCES = 60  # deep body text is mostly quotes and background; bounded work per article

_ABBREV = r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bNo)(?<!\bU\.S)(?<!\bU\.K)"
_SENT_SPLIT = re.compile(rf"(?:{_ABBREV}[.!?][\"'”’)]?)\s+(?=[\"'“‘(]?[A-ZÀ-ÖØ-Þ0-9])|\n+")
_CLAUSE_SPLIT = re.compile(
    r";\s+|,\s+(?:and|while|but|whereas|as|after)\s+(?=[A-Z])|\s+and\s+(?=the [A-Z])|"
    # "..., following a court order issued on 16 August": the cause has its own date and cues
    r",\s+(?=(?:following|after|amid|citing)\s)|"
    r",\s+(?=(?:and )?(?:the )?(?:[A-Z][\w.-]+\s){0,3}(?:followed|has|have|had)\b)"
)
# "..., reinstating the ban lifted in spring": a participle phrase, split off only when it states
# another step than the main clause (else it qualifies that step: "..., putting the ban announced
# in December into effect").
_PARTICIPLE = re.compile(r",\s+(?=(?!including|according|during|notwithstanding)[a-z]+ing\s)")
_PASSIVE_BEFORE = re.compile(
    r"\b(?:is|are|was|were|been|be|being|get|gets|got|has been|have been|had been|wird|"
    r"wurde|est|a été|fue|ha sido|è stato|è stata|foi)\s+(?:\w+\s+)?$",
    re.IGNORECASE,
)
_OWNER_AFTER = re.compile(
    r"^(?:-|\s)?(?:owned|based|linked|made|developed|built|run|born|headquartered|backed|"
    r"apps?\b|platforms?\b|video|social|messaging|chat|AI|tech|company|firm|companies|"
    r"users|data|media|internet|government's treatment|state media|security software|"
    r"intelligence|parent|owner|investors?|market|shooter|shopping|version|servers?|"
    r"banks?|lenders?|universit(?:y|ies)|retailers?|businesses|carriers?|group|employers?|"
    r"schools?|start-?ups?)",
    re.IGNORECASE,
)
_NOT_ACTOR_BEFORE = re.compile(
    r"\b(?:outside|from|with|against|than|over|about|to|towards|into|between|for|of|by|"
    r"ties to|linked to|owned by|based in|listed in|traded in|headquartered in|incorporated in|"
    r"registered in|across|throughout|including|such as|like|"
    r"hostile|rival|de|du|des|aus|von|da|dal|della|del)\s+(?:the\s+)?$",
    re.IGNORECASE,
)
_POSSESSIVE_BAN = re.compile(r"^(?:'s?|’s?)\s+(?:[\w-]+\s+){0,4}?(?:ban|block|order|law|decision)")
_COMPANY_NAMES = re.compile(
    r"\b(?:Apple|Google|Amazon|Meta|Microsoft|Samsung|OpenAI|ByteDance|Tencent|Alibaba|"
    r"Krafton|Oracle|Walmart|Wells Fargo|Citigroup|Goldman Sachs|JPMorgan|Bank of America|"
    r"Deutsche Bank|Stack Overflow|IBM|Intel|Nvidia|Sony|Nintendo|Netflix Inc)\b"
)
_WHERE_USERS = re.compile(
    r"^\s+(?:users|people|citizens|residents|players|gamers|app stores?|stores|market)\b"
)
_FOLLOW_SUIT = re.compile(
    r"\b(?:followed suit|follow(?:s|ed)? suit|following suit|taken similar action|"
    r"done the same|did the same|tak(?:es|ing) the same step)\b",
    re.IGNORECASE,
)
# Only the past tense recalls: "Wales follows suit" is news, "Canada had followed suit" is not.
_FOLLOWED_SUIT = re.compile(
    r"\b(?:followed suit|taken similar action|done the same|did the same)\b", re.IGNORECASE
)
_EU_BARE = re.compile(r"\b(?:Commission|Parliament|Council)\b")
_EU_BARE_NAMES = {
    "Commission": "European Commission",
    "Parliament": "European Parliament",
    "Council": "Council of the European Union",
}
_GOV_DEVICE_BODIES = frozenset({"parliament", "military"})


@dataclass(frozen=True)
class _Actor:
    jurisdiction: str
    country: str
    subdivision: str | None
    level: str
    body: str
    explicit: bool  # named in the clause itself (not inherited from the article)
    body_kind: str = ""  # court, regulator, dpa, parliament, ... when a body acts
    named_as: str = ""  # how the text names it: country, demonym, capital, subdivision, ...


@dataclass
class _Candidate:
    index: int  # sentence index (0 = title)
    actors: list[_Actor]
    app: str
    app_explicit: bool
    in_catalogue: bool
    action: str
    scope: str
    scope_explicit: bool
    announced: dt.date | None
    stated_old: bool  # the clause dates itself before the recent window
    date_stated: bool  # the clause has its own time phrase (else: publication date)
    recall_cue: bool
    also_cue: bool
    evidence: str
    weak_proposal: bool = False  # "moves to ban": the lead's definite action may overrule it


@dataclass
class _Context:
    """What the article is about: its main app and main actor (from title and lead)."""

    app: str = ""
    actor: _Actor | None = None
    app_in_catalogue: bool = True
    calls_app: bool = False  # title or lead call something an app, platform, service, game ...
    app_counts: dict[str, int] = field(default_factory=dict)  # named apps, whole article
    # the first sub-national unit named anywhere in the article ("its Montana users")
    subdivision: _Actor | None = None
    # a sub-national unit named with a body in the lead ("Hamburg's data protection commissioner")
    sub_body: _Actor | None = None


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, on punctuation and line breaks (abbreviations kept whole)."""
    return [s.strip() for s in _SENT_SPLIT.split(text or "") if s and s.strip()]


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
    """Every ban event an article states, new ones first, recalled ones as `background`."""
    catalogue = catalogue or default_catalogue()
    pub = (published or dt.datetime.now(dt.UTC)).date()
    sentences = [title.strip()] if title and title.strip() else []
    sentences += split_sentences(text)[:MAX_SENTENCES]
    if not title or not title.strip():
        sentences.insert(0, "")
    ctx = _context(sentences, catalogue, language, home_country)
    candidates: list[_Candidate] = []
    for i, sentence in enumerate(sentences):
        if not sentence:
            continue
        if i == 0 and lx.HEADLINE_QUESTION.search(sentence):
            continue  # "Should X ban Y?" asks, it does not report
        for clause in _clauses(sentence):
            cand = _read_clause(clause, sentence, i, pub, ctx, catalogue)
            if cand is not None:
                candidates.append(cand)
    not_news = bool(
        lx.ARTICLE_NOT_NEWS.search(" ".join(sentences[:3]))
        or lx.RETROSPECTIVE_HEADLINE.search(sentences[0])
    )
    eu_hint = ""
    if ctx.actor is not None and ctx.actor.country == "EU":
        # "Brussels bans ..." + "Council officials told staff ...": which institution acted
        m = _EU_BARE.search(" ".join(sentences[:4]))
        eu_hint = _EU_BARE_NAMES[m.group(0)] if m else ""
    return _assemble(_settle_weak_proposals(candidates), article_id, pub, not_news, eu_hint)


def detect_ban_events(
    articles: Sequence[Article],
    *,
    catalogue: AppCatalogue | None = None,
    min_confidence: float = 0.5,
    feed_countries: Mapping[str, str] | None = None,
) -> tuple[list[Detection], dict[str, int]]:
    """Detect ban events in a batch of articles; returns detections and outcome counts.

    `feed_countries` maps a feed name to its country (config `[[feeds]] country`): a domestic
    outlet's "the government" with no country named is that country's.
    """
    catalogue = catalogue or default_catalogue()
    detections: list[Detection] = []
    counts = {"articles": 0, "with_events": 0, "detections": 0, "background": 0, "dropped": 0}
    for article in articles:
        counts["articles"] += 1
        try:
            found = detect_text(
                article.title,
                article.text,
                article.published_at or article.fetched_at,
                article_id=article.article_id,
                catalogue=catalogue,
                language=article.language,
                home_country=(feed_countries or {}).get(article.feed_name),
            )
        except Exception:  # one odd page must not stop the batch
            logger.exception("detection failed for article %s", article.article_id)
            counts["errors"] = counts.get("errors", 0) + 1
            continue
        kept = [d for d in found if d.confidence >= min_confidence]
        counts["dropped"] += len(found) - len(kept)
        counts["background"] += sum(d.background for d in kept)
        counts["detections"] += len(kept)
        if any(not d.background for d in kept):
            counts["with_events"] += 1
        detections.extend(kept)
    logger.info(
        "detected %s events in %s articles (%s background, %s below confidence)",
        counts["detections"] - counts["background"],
        counts["articles"],
        counts["background"],
        counts["dropped"],
    )
    return detections, counts


# --- reading one clause ------------------------------------------------------------------------


def _clauses(sentence: str) -> list[str]:
    parts = [p for p in _CLAUSE_SPLIT.split(sentence) if p and p.strip()] or [sentence]
    out: list[str] = []
    for part in parts:
        m = _PARTICIPLE.search(part)
        if m:
            main, rest = part[: m.start()], part[m.end() :]
            a, b = _trigger(main), _trigger(rest)
            if a and b and a[0] != b[0]:
                out += [main, rest]
                continue
        out.append(part)
    return out


def _cue(pattern: re.Pattern[str], clause: str) -> re.Match[str] | None:
    """The first match of a cue that is a word, not part of a name in capitals ("RESTRICT Act")."""
    shouting = clause.isupper()
    for m in pattern.finditer(clause):
        word = m.group(0)
        if shouting or not (word.isupper() and len(word) > 3):
            return m
    return None


def _trigger(clause: str) -> tuple[str, re.Match[str]] | None:
    """The action cue of a clause: lifted beats proposed beats ban (they qualify a ban)."""
    lift = _cue(lx.LIFT, clause)
    ban = _cue(lx.BAN, clause) or _FOLLOW_SUIT.search(clause)
    head = clause[: lift.start()] if lift else ""
    if lift and lx.LIFT_NOT_YET.search(head) and not lx.LIFT_GRANTED.search(head):
        lift = None  # "seeks to restore", "conditions for lifting": not lifted yet
    if lift and ban and lx.STILL_BLOCKED.search(clause):
        lift = None  # "stays blocked even after the internet returns"
    if lift and lx.REIMPOSE.match(clause, lift.start()):
        lift = None  # "reinstates the block": the ban is back, not the app
    if lift:
        return "lifted", lift
    if ban is None:
        return None
    propose = lx.PROPOSE.search(clause) or lx.MODAL.search(clause)
    if propose and abs(propose.start() - ban.start()) < 80:
        if lx.ENACTED.search(clause[: propose.start()]) and not lx.MODAL.search(clause):
            return "ban", ban  # "Biden signs spending bill that bans TikTok"
        return "proposed", ban
    return "ban", ban


def _weak_proposal(clause: str) -> bool:
    """Is the clause's only proposal cue one that headlines also use for steps taken?"""
    propose = lx.PROPOSE.search(clause)
    return bool(propose and lx.WEAK_PROPOSE.fullmatch(propose.group(0)))


def _read_clause(
    clause: str, sentence: str, index: int, pub: dt.date, ctx: _Context, catalogue: AppCatalogue
) -> _Candidate | None:
    found = _trigger(clause)
    if found is None:
        return None
    action, trig = found
    head = clause[: trig.start()]
    if lx.CALL.search(head) or lx.CALL.search(clause[trig.start() : trig.end() + 40]):
        return None
    if lx.NEGATION.search(clause[max(0, trig.start() - 30) : trig.start()]):
        return None
    if re.search(r"\b(?:not|no)\s+(?:an?\s+)?(?:ban|block|Verbot)\b", clause, re.I):
        return None
    apps = catalogue.find(clause)
    actors = find_actors(clause)
    gov_before = [a for a in actors if a.end <= trig.start() and _is_actor(clause, a)]
    named_apps = [a for a in apps if not a.generic]
    # The app or a company acts on its own users or content: a platform action.
    passive = _PASSIVE_BEFORE.search(head) and not trig.group(0).endswith("ing")
    if action != "lifted" and not gov_before and not passive:
        if any(a.end <= trig.start() for a in named_apps) or _COMPANY_NAMES.search(head):
            return None
        if any(a.generic and a.start <= 4 for a in apps) and _speaks_for_itself(head):
            return None  # "The social network said it would stop serving ...": the app acts
        if lx.COMPANY.search(head):
            return None
    company = lx.COMPANY.search(clause)
    if company and not any(_is_actor(clause, a) for a in actors):
        return None
    if company and company.end() <= trig.start():
        first_gov = min((a.start for a in gov_before), default=len(clause))
        if company.start() < first_gov:
            return None  # "The university in <state> said it blocked ...": not the state
    app, app_explicit, in_cat = _choose_app(clause, apps, trig, ctx)
    if not app and _FOLLOW_SUIT.search(clause) and ctx.app:
        app, app_explicit, in_cat = ctx.app, False, True  # "X has taken similar action"
    if not app:
        return None
    tail = clause[trig.end() : trig.end() + 30]
    data_stop = re.search(r"(?:processing|collecting|using)$", trig.group(0))
    if lx.NOT_APP_OBJECT.match(tail.lstrip()) and not data_stop:
        return None  # "blocks accounts", "bans videos"; but "stop processing users' data"
    trade = re.match(r"^\s*(?:the\s+)?(?:sales?|exports?|imports?)\b(?:\s+of)?", tail, re.I)
    if trade and not any(0 <= a.start - (trig.end() + trade.end()) <= 12 for a in named_apps):
        return None  # the sale of chips; but "bans sales of Kaspersky antivirus" is the app
    if re.match(
        r"^\s*(?:\w+\s+)?from\s+(?:leaving|entering|travel\w*|running|holding|standing)\b", tail
    ):
        return None  # a person barred from leaving the country, not an app
    if re.search(
        r"\bfrom\b[^.]{0,25}?\b(?:5G|supplying|equipment|infrastructure|contracts?|tenders?|"
        r"procurement|rollout)\b",
        clause[trig.end() : trig.end() + 60],
    ):
        return None  # a vendor barred from networks or contracts, not an app
    prefix = sentence[: max(0, sentence.find(clause))]
    chosen = _refine_actors(clause, _choose_actors(clause, actors, trig, ctx, prefix), ctx)
    if not chosen:
        return None
    kinds = {a.body if a.kind == "body" else a.kind for a in actors}
    scope, scope_explicit = _scope(clause, chosen[0], kinds)
    times = find_times(clause, pub)
    old = [t for t in times if (pub - t.date).days > RECENT_DAYS]
    recent = [t for t in times if 0 <= (pub - t.date).days <= RECENT_DAYS]
    announced = (old[0].date if old else None) if not recent else recent[0].date
    if not recent and not old:
        announced = pub
    recall = bool(lx.BACKGROUND.search(clause) or _FOLLOWED_SUIT.search(clause))
    return _Candidate(
        index=index,
        actors=chosen,
        app=app,
        app_explicit=app_explicit,
        in_catalogue=in_cat,
        action=action,
        scope=scope,
        scope_explicit=scope_explicit,
        announced=announced,
        stated_old=bool(old) and not recent,
        date_stated=bool(recent or old),
        recall_cue=recall,
        also_cue=bool(lx.ALSO.search(clause)),
        evidence=sentence,
        weak_proposal=action == "proposed" and _weak_proposal(clause),
    )


def _choose_app(
    clause: str, apps: list[AppMention], trig: re.Match[str], ctx: _Context
) -> tuple[str, bool, bool]:
    named = [a for a in apps if not a.generic]
    after = [a for a in named if a.start >= trig.start()]
    before = [a for a in named if a.end <= trig.start()]
    if after and (after[0].start - trig.end() < 80 or not before):
        chosen = _most_prominent(clause, after, ctx)
        return chosen.app, True, chosen.in_catalogue
    if before:
        group = [before[-1]]
        for a in reversed(before[:-1]):
            if not _LIST_GAP.fullmatch(clause[a.end : group[0].start]):
                break
            group.insert(0, a)
        chosen = _most_prominent(clause, group, ctx)
        return chosen.app, True, chosen.in_catalogue
    if any(a.generic for a in apps) and ctx.app:
        return ctx.app, False, ctx.app_in_catalogue
    # an app outside the catalogue, named as the object: "Jordan blocks Tango", when the article
    # calls it an app, the step is about devices or app stores, or the name is a product's
    unknown = name_near_action(clause, trig.start(), trig.end())
    if unknown is not None and (
        ctx.calls_app
        or lx.GOV_DEVICES.search(clause)
        or re.search(r"\bapp ?stores?\b|\bdownload|\bversion of\b", clause, re.I)
        or CAMEL.match(unknown.app)
    ):
        return unknown.app, True, False
    return "", False, False


def _speaks_for_itself(head: str) -> bool:
    """The clause's subject speaks for itself ("The social network said it would ...")."""
    return bool(re.search(r"\b(?:said|says|announced|decided)\b[^.]{0,20}?\b(?:it|its)\b", head))


def _most_prominent(clause: str, apps: list[AppMention], ctx: _Context) -> AppMention:
    """A multi-app action ("tells staff not to use ChatGPT, DeepSeek") is filed under the app
    the article is most about: the one it names most often, else the first listed."""
    group = [apps[0]]
    for a in apps[1:]:
        if not _LIST_GAP.fullmatch(clause[group[-1].end : a.start]):
            break
        group.append(a)
    return max(group, key=lambda a: (ctx.app_counts.get(a.app, 0), -a.start))


_LIST_GAP = re.compile(r"\s*(?:,|and|or|&|,\s*and|,\s*or|und|et|y|e|o|oder|ou)\s*")


def _is_actor(clause: str, a: ActorMention) -> bool:
    """Whether a place mention can be the acting government (not an owner or a location)."""
    after = clause[a.end : a.end + 40]
    before = clause[max(0, a.start - 25) : a.start]
    if a.kind == "body":
        return True
    placed = ("country", "capital", "region", "territory", "subdivision")
    if a.kind in placed and _OWNER_AFTER.match(after):
        return False
    if a.kind == "demonym":
        if _OWNER_AFTER.match(after):
            return False
        # "Dutch ministries", "the Welsh Government", "Italian regulator"
        nxt = re.match(r"^\s*(?:[\w-]+\s+){0,2}?([\w-]+)", after)
        if nxt and lx_body(nxt.group(0)):
            return True
        return a.start == 0 and bool(re.match(r"^\s+[a-z]", after))
    if _NOT_ACTOR_BEFORE.search(before):
        # "a group of US senators": a place named with its own body still acts
        return bool(re.match(r"^(?:'s|’s)?\s*[\w-]+", after)) and lx_body(after[:25])
    return True


def lx_body(text: str) -> bool:
    return any(m.kind == "body" for m in find_actors(text))


def _with_body(clause: str, place: ActorMention, actors: list[ActorMention]) -> str:
    """The body kind attached to a place ("New Zealand parliament", "Pakistan's regulator")."""
    for b in actors:
        if b.kind == "body" and 0 <= b.start - place.end <= 25:
            between = clause[place.end : b.start]
            if re.fullmatch(r"(?:'s|’s)?\s*(?:[\w-]+\s+)?", between):
                return b.body
    return ""


def _actor_of(m: ActorMention, body_kind: str, explicit: bool = True) -> _Actor:
    body = ""
    if m.kind == "eu":
        body = m.jurisdiction
    elif body_kind in _GOV_DEVICE_BODIES:
        body = {"parliament": "Parliament", "military": "Ministry of Defence"}[body_kind]
    kind = m.body if m.kind == "body" else body_kind
    if m.kind == "region":
        # In IN, PK, BR, ID, NG a state's courts act for the country ("Madras High Court bans
        # TikTok" is India's ban), but its own government acts for the state alone.
        if body_kind in ("government", "ministry", "police", "leader") and m.subdivision:
            name = subdivision_name(m.subdivision)
            return _Actor(
                name, m.country, m.subdivision, "subnational", "", explicit, kind, "region"
            )
        return _Actor(m.jurisdiction, m.country, None, m.level, body, explicit, kind, m.kind)
    return _Actor(m.jurisdiction, m.country, m.subdivision, m.level, body, explicit, kind, m.kind)


def _choose_actors(
    clause: str,
    actors: list[ActorMention],
    trig: re.Match[str],
    ctx: _Context,
    prefix: str = "",
) -> list[_Actor]:
    """Who acts in a clause; `prefix` is the text of its sentence before it (the subject of a
    split-off clause: "The Welsh Government said ... , removing TikTok from work phones")."""
    eu = [a for a in actors if a.kind == "eu"]
    if eu:
        return [_actor_of(eu[0], "")]
    places = [a for a in actors if a.kind != "body" and _is_actor(clause, a)]
    bodies = [a for a in actors if a.kind == "body"]
    before = [a for a in places if a.end <= trig.start()]
    if before:
        # "Canada, Belgium and India have taken similar action": every listed actor.
        first = before[0]
        group = [first]
        for a in before[1:]:
            gap = clause[group[-1].end : a.start]
            if re.fullmatch(r"\s*(?:,|and|,\s*and)\s*", gap):
                group.append(a)
        return [_actor_of(a, _with_body(clause, a, actors)) for a in group]
    after = [a for a in places if a.start >= trig.end()]
    for a in after:
        # "lifts Montana's ban", "blocked in Pakistan"
        if _POSSESSIVE_BAN.match(clause[a.end :]) or re.search(
            r"\b(?:in|across|throughout|en|in|im|em|nel|na|no)\s+$", clause[: a.start]
        ):
            return [_actor_of(a, _with_body(clause, a, actors))]
    for a in actors:
        # "back for Pakistani users": where the block applied
        if a.kind == "demonym" and _WHERE_USERS.match(clause[a.end :]):
            return [_actor_of(a, "")]
    named_body = [b for b in bodies if b.country]
    if named_body:
        b = named_body[0]
        return [_Actor(b.jurisdiction, b.country, None, "national", "", True, b.body)]
    if prefix:
        found = find_actors(prefix)
        subject = [a for a in found if a.kind not in ("body", "eu") and _is_actor(prefix, a)]
        if subject:
            return [_actor_of(subject[0], _with_body(prefix, subject[0], found))]
    if ctx.actor is not None and (bodies or ctx.actor):
        body_kind = bodies[0].body if bodies else ""
        actor = replace(ctx.actor, body_kind=body_kind or ctx.actor.body_kind)
        if body_kind in _GOV_DEVICE_BODIES and not actor.body and actor.level != "supranational":
            actor = replace(
                actor,
                body={"parliament": "Parliament", "military": "Ministry of Defence"}[body_kind],
            )
        return [replace(actor, explicit=False)]
    return []


def _refine_actors(clause: str, chosen: list[_Actor], ctx: _Context) -> list[_Actor]:
    """A vague national actor made precise by the article: "German regulator" in the headline,
    "Hamburg's data protection commissioner" in the lead; a "statewide" ban signed by "the
    governor" in an article about Montana."""
    if len(chosen) != 1 or chosen[0].subdivision is not None:
        return chosen
    actor = chosen[0]
    sub = ctx.sub_body
    if (
        sub is not None
        and sub.country == actor.country
        and actor.named_as == "demonym"
        and actor.body_kind
    ):
        return [replace(sub, explicit=actor.explicit)]
    sub = ctx.subdivision
    if (
        sub is not None
        and sub.country == actor.country
        and not actor.explicit
        and lx.SUBNATIONAL_CUE.search(clause)
    ):
        return [sub]
    return chosen


_EXTEND_TO_PUBLIC = re.compile(
    r"\bextend\w*\b[^.]{0,80}?\bto (?:the (?:general )?public|everyone|all users|the whole|"
    r"the entire|private)",
    re.IGNORECASE,
)


def _scope(clause: str, actor: _Actor, body_kinds: set[str]) -> tuple[str, bool]:
    if _EXTEND_TO_PUBLIC.search(clause):
        return "nationwide", True
    if "territory" in body_kinds:
        return "other", True  # a block in one overseas territory, not the whole country
    if actor.body_kind == "dpa" or "dpa" in body_kinds:
        # a data-protection authority orders a processing stop, even when the app then
        # disappears from stores: its scope is "other"
        return "other", True
    if lx.GOV_DEVICES.search(clause):
        return "government_devices", True
    if lx.OTHER_SCOPE.search(clause):
        return "other", True
    if lx.NATIONWIDE.search(clause):
        return "nationwide", True
    if actor.level == "supranational" or actor.body == "Ministry of Defence":
        # an EU institution or an army acting alone restricts its own staff's devices; a
        # parliament voting on a ban legislates for everyone
        return "government_devices", False
    return "nationwide", False


# --- the article as a whole --------------------------------------------------------------------


# The home state of a language's press: a French article saying only "l'État interdit ..." is
# about France. A weak prior, used only when the title and lead name no acting place at all.
_HOME_COUNTRY = {"fr": "FR", "de": "DE", "it": "IT", "es": "ES", "pt": "BR"}


def _context(
    sentences: list[str],
    catalogue: AppCatalogue,
    language: str | None = None,
    home_country: str | None = None,
) -> _Context:
    """The article's main app and actor: first named in the title, else in the lead."""
    ctx = _Context()
    lead = sentences[:4]
    ctx.calls_app = any(a.generic or not a.in_catalogue for s in lead for a in catalogue.find(s))
    ctx.app_counts = dict(
        Counter(
            a.app for s in sentences for a in catalogue.find(s) if not a.generic and a.in_catalogue
        )
    )
    for s in lead:
        named = [a for a in catalogue.find(s) if not a.generic]
        if named and not ctx.app:
            ctx.app = named[0].app
        if ctx.actor is None and not lx.BACKGROUND.search(s):
            # a sentence recalling other countries' bans does not say who acts today
            for a in find_actors(s):
                if a.kind == "body" and not a.country:
                    continue
                if _is_actor(s, a):
                    ctx.actor = _actor_of(a, _with_body(s, a, find_actors(s)), explicit=False)
                    break
        if ctx.app and ctx.actor:
            break
    if not ctx.app and ctx.calls_app and sentences[0]:
        found = _trigger(sentences[0])
        unknown = found and name_near_action(sentences[0], found[1].start(), found[1].end())
        if unknown:
            ctx.app, ctx.app_in_catalogue = unknown.app, False
    # the feed's own country (config `[[feeds]] country`) beats the language's home state
    home = home_country or _HOME_COUNTRY.get((language or "")[:2].lower())
    if (
        ctx.actor is None
        and home
        and any(
            a.kind == "body" and a.body not in ("leader", "police")
            for s in sentences[:2]
            for a in find_actors(s)
        )
    ):
        ctx.actor = _Actor(country_name(home), home, None, "national", "", False, "government")
    if ctx.actor is None:
        # A domestic story may never name its country as an actor ("IT teams across
        # Whitehall"): the first place it names at all is the best guess.
        ctx.actor = next(
            (
                _actor_of(a, "", explicit=False)
                for s in sentences
                for a in find_actors(s)
                if a.kind in ("country", "capital", "subdivision", "region", "territory")
                or (a.kind == "body" and a.country)
            ),
            None,
        )
    for i, s in enumerate(sentences):
        found = find_actors(s)
        for a in found:
            if a.subdivision is None or a.level != "subnational":
                continue
            body_kind = _with_body(s, a, found)
            if ctx.sub_body is None and i <= 3 and body_kind:
                ctx.sub_body = _actor_of(a, body_kind, explicit=False)
            if ctx.subdivision is None:
                ctx.subdivision = _actor_of(a, body_kind, explicit=False)
        if ctx.subdivision is not None:
            break
    return ctx


def _settle_weak_proposals(cands: list[_Candidate]) -> list[_Candidate]:
    """ "X moves to block Y" is a ban when the lead says the block was ordered, else a proposal."""
    out = []
    for c in cands:
        if c.weak_proposal:
            countries = {a.country for a in c.actors}
            definite = any(
                o.action == "ban"
                and o.app == c.app
                and o.index <= 3
                and not (o.recall_cue or o.stated_old)
                and countries & {a.country for a in o.actors}
                for o in cands
            )
            if definite:
                c = replace(c, action="ban", weak_proposal=False)
        out.append(c)
    return out


def _assemble(
    cands: list[_Candidate],
    article_id: str,
    pub: dt.date,
    not_news: bool = False,
    eu_hint: str = "",
) -> list[Detection]:
    """Turn clause candidates into the article's detections (news first, then background)."""
    # Scope stated anywhere in the article for an (actor, app) beats a default scope: the
    # headline says "bans TikTok", the lead says "on government phones".
    stated_scope: dict[tuple, str] = {}
    eu_body = next(
        (a.body for c in cands for a in c.actors if a.country == "EU" and a.body), eu_hint
    )
    for c in cands:
        if c.scope_explicit and not c.stated_old and not (c.recall_cue and c.index > 0):
            for a in c.actors:
                stated_scope.setdefault((a.country, a.subdivision or "", c.app), c.scope)
    explicit_news_countries = {
        a.country
        for c in cands
        for a in c.actors
        if a.explicit and not c.stated_old and not (c.recall_cue and c.index > 0)
    }
    out: dict[tuple, Detection] = {}
    main_country: str | None = None
    news: dict[tuple, tuple] = {}  # (country, subdivision, body) -> key of its news detection
    dated: set[tuple] = set()  # keys whose date comes from a stated time phrase
    for c in cands:
        for actor in c.actors:
            if actor.country == "EU" and not actor.body and eu_body:
                actor = replace(actor, body=eu_body, jurisdiction=eu_body)
            scope = (
                c.scope
                if c.scope_explicit
                else stated_scope.get((actor.country, actor.subdivision or "", c.app), c.scope)
            )
            body = actor.body if scope == "government_devices" else ""
            if c.action == "proposed" and actor.level != "supranational":
                body = ""  # a bill or plan is the state's, not a body's rule for its own devices
            if body and body != actor.body:
                actor = replace(actor, body=body)
            if not body and actor.body:
                actor = replace(actor, body="")
            background = not_news or c.stated_old or (c.recall_cue and c.index > 0)
            if not background and main_country is not None and actor.country != main_country:
                background = True  # another country's ban, recalled for context
            if (
                not background
                and not actor.explicit
                and actor.country not in explicit_news_countries
            ):
                if any(a.explicit and a.country == actor.country for d in cands for a in d.actors):
                    background = True  # the article names this actor only in recalled events
            if not background and main_country is not None and c.index > 3 and not actor.explicit:
                background = True  # deep text without its own actor: commentary
            holder = (actor.country, actor.subdivision or "", body)
            if not background and holder in news:
                prev = out[news[holder]]
                if (prev.app, prev.action) != (c.app, c.action):
                    # One news event per actor and article: a second app is the same
                    # multi-app action (filed under the first), another action an older state.
                    if prev.action != c.action:
                        background = True
                    else:
                        continue
            if not background and main_country is None:
                main_country = actor.country
            announced = c.announced if c.announced else pub
            if background and not c.stated_old:
                announced = c.announced if c.announced != pub else None
            det = Detection(
                article_id=article_id,
                jurisdiction=actor.jurisdiction,
                country=actor.country,
                subdivision=actor.subdivision,
                level=actor.level,
                app=c.app,
                scope=scope,
                action=c.action,
                announced_on=announced,
                evidence=c.evidence,
                confidence=_confidence(c, actor, background),
                body=body,
                background=background,
                scope_explicit=c.scope_explicit or scope != "nationwide",
            )
            key = (det.country, det.subdivision or "", det.app, det.scope, det.body, det.action)
            if not background:
                news.setdefault(holder, key)
            prev = out.get(key)
            if prev is None or (prev.background and not background):
                out[key] = det
                if c.date_stated:
                    dated.add(key)
                continue
            if prev.background != background:
                continue
            merged = prev
            if det.confidence > prev.confidence:
                merged = replace(merged, confidence=det.confidence)
            if c.date_stated and key not in dated:
                # the headline has no date; the lead says "on Thursday"
                merged = replace(merged, announced_on=det.announced_on)
                dated.add(key)
            out[key] = merged
    dets = _drop_unscoped_twins(list(out.values()))
    dets.sort(key=lambda d: (d.background, -d.confidence))
    return dets


def _drop_unscoped_twins(dets: list[Detection]) -> list[Detection]:
    """One article, one step: a news detection that only defaults its scope ("lifts the ban")
    is the same step as one of the same actor, app and action whose scope the article states."""
    scoped = {
        (d.country, d.subdivision, d.app, d.action)
        for d in dets
        if not d.background and d.scope_explicit
    }
    return [
        d
        for d in dets
        if d.background
        or d.scope_explicit
        or (d.country, d.subdivision, d.app, d.action) not in scoped
    ]


def _confidence(c: _Candidate, actor: _Actor, background: bool) -> float:
    score = 0.45
    score += 0.2 if actor.explicit else 0.0
    score += 0.15 if c.app_explicit else -0.05
    score += 0.05 if c.in_catalogue else -0.1
    score += 0.1 if c.index <= 1 else (0.0 if c.index <= 3 else -0.1)
    score += 0.05 if c.scope_explicit else 0.0
    score -= 0.05 if c.action == "proposed" else 0.0
    return round(max(0.05, min(0.99, score)), 2)
