"""Candidate ban events in one clause: the rules' half of detection, tuned for recall.

Gazetteers (`enrich.actors`, `enrich.apps`), multilingual cue lists (`enrich.lexicon`) and
date resolution (`enrich.dates`) propose what a clause may state; whether it is a government's
step reported as news is decided by the learned model (`enrich.detect.model`), which reads the
rules' signals as features, never as verdicts.

How a clause is read (the article as a whole is `enrich.detect.article`):

1. A clause states an event when it has an action cue (ban / proposed / lifted) that is not
   asked for, argued for or denied ("should ban", "urges", "not a ban"), whose object is an app
   (not accounts, exports or phones in schools), and whose actor is a government, not a company
   or the app itself ("Facebook suspends ...").
2. The app is the first app after the action cue, else before it; "the video app" resolves to
   the article's main app. A multi-app action is filed under the first app named.
3. The actor is an EU institution, else the place or body in subject position, else "<X>'s
   ban", else "in <X>"; a bare "the court" or none at all resolves to the article's main actor.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field, replace

from banwatch.enrich import lexicon as lx
from banwatch.enrich.actors import ActorMention, find_actors, subdivision_name
from banwatch.enrich.apps import CAMEL, AppCatalogue, AppMention, name_near_action
from banwatch.enrich.dates import find_times

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
            return "ban", ban  # "the governor signs the budget law banning WeChat": enacted
        return "proposed", ban
    return "ban", ban


def _weak_proposal(clause: str) -> bool:
    """Is the clause's only proposal cue one that headlines also use for steps taken?"""
    propose = lx.PROPOSE.search(clause)
    return bool(propose and lx.WEAK_PROPOSE.fullmatch(propose.group(0)))


def _read_clause(
    clause: str,
    sentence: str,
    index: int,
    *,
    pub: dt.date,
    ctx: _Context,
    catalogue: AppCatalogue,
) -> _Candidate | None:
    """The event a clause may state, or None where a step of the rules rules it out: no
    reported action cue, a platform or company acting, no app, an object that is not an app,
    no government actor."""
    found = _trigger(clause)
    if found is None or not _cue_reports(clause, found[1]):
        return None
    action, trig = found
    apps = catalogue.find(clause)
    actors = find_actors(clause)
    if _not_government(clause, trig, action, apps, actors):
        return None
    app, app_explicit, in_cat = _choose_app(clause, apps, trig, ctx)
    if not app and _FOLLOW_SUIT.search(clause) and ctx.app:
        app, app_explicit, in_cat = ctx.app, False, True  # "X has taken similar action"
    if not app or not _object_is_app(clause, trig, [a for a in apps if not a.generic]):
        return None
    prefix = sentence[: max(0, sentence.find(clause))]
    chosen = _refine_actors(clause, _choose_actors(clause, actors, trig, ctx, prefix), ctx)
    if not chosen:
        return None
    kinds = {a.body if a.kind == "body" else a.kind for a in actors}
    scope, scope_explicit = _scope(clause, chosen[0], kinds)
    announced, stated_old, date_stated = _clause_date(clause, pub)
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
        stated_old=stated_old,
        date_stated=date_stated,
        recall_cue=recall,
        also_cue=bool(lx.ALSO.search(clause)),
        evidence=sentence,
        weak_proposal=action == "proposed" and _weak_proposal(clause),
    )


def _cue_reports(clause: str, trig: re.Match[str]) -> bool:
    """Whether the action cue reports a step: not asked or argued for ("urges a ban"), not
    denied ("did not block", "not a ban")."""
    head = clause[: trig.start()]
    if lx.CALL.search(head) or lx.CALL.search(clause[trig.start() : trig.end() + 40]):
        return False
    if lx.NEGATION.search(clause[max(0, trig.start() - 30) : trig.start()]):
        return False
    return not re.search(r"\b(?:not|no)\s+(?:an?\s+)?(?:ban|block|Verbot)\b", clause, re.I)


def _not_government(
    clause: str,
    trig: re.Match[str],
    action: str,
    apps: list[AppMention],
    actors: list[ActorMention],
) -> bool:
    """Whether the app itself or a company acts (on its own users, content or staff), not a
    government: "Facebook suspends ...", "The university in <state> said it blocked ..."."""
    head = clause[: trig.start()]
    gov_before = [a for a in actors if a.end <= trig.start() and _is_actor(clause, a)]
    passive = _PASSIVE_BEFORE.search(head) and not trig.group(0).endswith("ing")
    if action != "lifted" and not gov_before and not passive:
        if any(a.end <= trig.start() for a in apps if not a.generic):
            return True
        if _COMPANY_NAMES.search(head) or lx.COMPANY.search(head):
            return True
        if any(a.generic and a.start <= 4 for a in apps) and _speaks_for_itself(head):
            return True  # "The messaging service said it would pull out of ...": the app acts
    company = lx.COMPANY.search(clause)
    if company and not any(_is_actor(clause, a) for a in actors):
        return True
    if company and company.end() <= trig.start():
        first_gov = min((a.start for a in gov_before), default=len(clause))
        return company.start() < first_gov
    return False


def _object_is_app(clause: str, trig: re.Match[str], named_apps: list[AppMention]) -> bool:
    """Whether what the cue acts on is an app: not accounts or videos, the sale of chips, a
    person barred from leaving, a vendor barred from networks or contracts."""
    tail = clause[trig.end() : trig.end() + 30]
    data_stop = re.search(r"(?:processing|collecting|using)$", trig.group(0))
    if lx.NOT_APP_OBJECT.match(tail.lstrip()) and not data_stop:
        return False  # "blocks accounts", "bans videos"; but "stop processing users' data"
    trade = re.match(r"^\s*(?:the\s+)?(?:sales?|exports?|imports?)\b(?:\s+of)?", tail, re.I)
    if trade and not any(0 <= a.start - (trig.end() + trade.end()) <= 12 for a in named_apps):
        return False  # the sale of chips; but "bans sales of Kaspersky antivirus" is the app
    if re.match(
        r"^\s*(?:\w+\s+)?from\s+(?:leaving|entering|travel\w*|running|holding|standing)\b", tail
    ):
        return False
    return not re.search(
        r"\bfrom\b[^.]{0,25}?\b(?:5G|supplying|equipment|infrastructure|contracts?|tenders?|"
        r"procurement|rollout)\b",
        clause[trig.end() : trig.end() + 60],
    )


def _clause_date(clause: str, pub: dt.date) -> tuple[dt.date | None, bool, bool]:
    """(announced, stated_old, date_stated): a recent time phrase dates the step; only an old
    one dates it as recalled; none at all leaves the publication date."""
    times = find_times(clause, pub)
    old = [t for t in times if (pub - t.date).days > RECENT_DAYS]
    recent = [t for t in times if 0 <= (pub - t.date).days <= RECENT_DAYS]
    if recent:
        return recent[0].date, False, True
    if old:
        return old[0].date, True, True
    return pub, False, False


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
    """A multi-app action ("orders officials off Kimi, Qwen and DeepSeek") is filed under the app
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
    named = _named_actors(clause, actors, trig)
    if named:
        return named
    if prefix:
        found = find_actors(prefix)
        subject = [a for a in found if a.kind not in ("body", "eu") and _is_actor(prefix, a)]
        if subject:
            return [_actor_of(subject[0], _with_body(prefix, subject[0], found))]
    return _article_actor(ctx, [a for a in actors if a.kind == "body"])


def _named_actors(clause: str, actors: list[ActorMention], trig: re.Match[str]) -> list[_Actor]:
    """The actors the clause names itself: the places before the cue (every one of a list),
    else one after it ("lifts Montana's ban", "blocked in Pakistan"), else where users are
    ("back for Pakistani users"), else a named body."""
    places = [a for a in actors if a.kind != "body" and _is_actor(clause, a)]
    before = [a for a in places if a.end <= trig.start()]
    if before:
        # "Canada, Belgium and India have taken similar action": every listed actor.
        group = [before[0]]
        for a in before[1:]:
            gap = clause[group[-1].end : a.start]
            if re.fullmatch(r"\s*(?:,|and|,\s*and)\s*", gap):
                group.append(a)
        return [_actor_of(a, _with_body(clause, a, actors)) for a in group]
    for a in places:
        if a.start >= trig.end() and (
            _POSSESSIVE_BAN.match(clause[a.end :])
            or re.search(r"\b(?:in|across|throughout|en|in|im|em|nel|na|no)\s+$", clause[: a.start])
        ):
            return [_actor_of(a, _with_body(clause, a, actors))]
    for a in actors:
        if a.kind == "demonym" and _WHERE_USERS.match(clause[a.end :]):
            return [_actor_of(a, "")]
    b = next((b for b in actors if b.kind == "body" and b.country), None)
    if b is not None:
        return [_Actor(b.jurisdiction, b.country, None, "national", "", True, b.body)]
    return []


def _article_actor(ctx: _Context, bodies: list[ActorMention]) -> list[_Actor]:
    """The article's main actor, where the clause names none or only a bare body ("the court");
    the body kind it names rides along."""
    if ctx.actor is None:
        return []
    body_kind = bodies[0].body if bodies else ""
    actor = replace(ctx.actor, body_kind=body_kind or ctx.actor.body_kind)
    if body_kind in _GOV_DEVICE_BODIES and not actor.body and actor.level != "supranational":
        actor = replace(
            actor,
            body={"parliament": "Parliament", "military": "Ministry of Defence"}[body_kind],
        )
    return [replace(actor, explicit=False)]


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
