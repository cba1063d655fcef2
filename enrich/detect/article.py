"""The article as a whole: its main app and actor, and every candidate event it may state.

The first event stated (headline first) is the article's news and sets its main country. Later
events are *background* (recalled, not news) when they are dated well before publication, use
recall cues ("already", "similar action", "follows ..."), belong to another country, or are an
earlier state of the news's own situation; events of other parts of the same state ("the Welsh
Government has also banned ...") stay news. These are the rules' readings: each one is kept as
a signal on the candidate (`Candidate.signals`), and the learned model decides.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, replace

from banwatch.enrich import lexicon as lx
from banwatch.enrich.actors import country_name, find_actors
from banwatch.enrich.apps import AppCatalogue, default_catalogue, name_near_action
from banwatch.enrich.detect.candidates import (
    _EU_BARE,
    _EU_BARE_NAMES,
    MAX_SENTENCES,
    _Actor,
    _actor_of,
    _Candidate,
    _clauses,
    _Context,
    _is_actor,
    _read_clause,
    _trigger,
    _with_body,
    split_sentences,
)

from banwatch.records import Detection


@dataclass
class Candidate:
    """One event an article may state, with what the rules saw of it.

    `detection` is the rules' reading (fields, evidence, background flag, hand-set confidence);
    `signals` are its features for the model; `rule_keep` is False where the rules themselves
    set it aside (a second app of one multi-app step, a twin with a defaulted scope).
    """

    detection: Detection
    signals: dict[str, float]
    rule_keep: bool = True


def find_candidates(
    title: str,
    text: str,
    published: dt.datetime | None,
    *,
    article_id: str = "",
    catalogue: AppCatalogue | None = None,
    language: str | None = None,
    home_country: str | None = None,
) -> list[Candidate]:
    """Every event an article may state, with the rules' signals (the rules' own picks first)."""
    catalogue = catalogue or default_catalogue()
    pub = (published or dt.datetime.now(dt.UTC)).date()
    sentences = [title.strip()] if title and title.strip() else []
    sentences += split_sentences(text)[:MAX_SENTENCES]
    if not title or not title.strip():
        sentences.insert(0, "")
    ctx = _context(sentences, catalogue, language, home_country)
    cands: list[_Candidate] = []
    for i, sentence in enumerate(sentences):
        if not sentence:
            continue
        if i == 0 and lx.HEADLINE_QUESTION.search(sentence):
            continue  # "Should X ban Y?" asks, it does not report
        for clause in _clauses(sentence):
            cand = _read_clause(clause, sentence, i, pub=pub, ctx=ctx, catalogue=catalogue)
            if cand is not None:
                cands.append(cand)
    not_news = bool(
        lx.ARTICLE_NOT_NEWS.search(" ".join(sentences[:3]))
        or lx.RETROSPECTIVE_HEADLINE.search(sentences[0])
    )
    eu_hint = ""
    if ctx.actor is not None and ctx.actor.country == "EU":
        # "Brussels bans ..." + "Council officials told staff ...": which institution acted
        m = _EU_BARE.search(" ".join(sentences[:4]))
        eu_hint = _EU_BARE_NAMES[m.group(0)] if m else ""
    found = _assemble(
        _settle_weak_proposals(cands), article_id, pub, ctx, not_news=not_news, eu_hint=eu_hint
    )
    fallback = _article_candidate(sentences, ctx, found, article_id, pub)
    if fallback is not None:
        found.append(fallback)
    _article_signals(found, sentences, ctx)
    return found


def _article_signals(found: list[Candidate], sentences: list[str], ctx: _Context) -> None:
    """Where a candidate stands in its article: named in the headline, its rank among the
    candidates, how deep its evidence sits, how many other steps the article states."""
    headline = sentences[0]
    headline_countries = {a.country for a in find_actors(headline)} if headline else set()
    countries = {k.detection.country for k in found}
    for rank, k in enumerate(found):
        d = k.detection
        k.signals["n_candidates"] = float(len(found))
        k.signals["n_countries"] = float(len(countries))
        k.signals["n_apps"] = float(len(ctx.app_counts))
        k.signals["app_mentions"] = float(ctx.app_counts.get(d.app, 0))
        k.signals["rank"] = float(rank)
        k.signals["depth"] = k.signals.get("index", 0.0) / max(len(sentences), 1)
        k.signals["hl_app"] = float(d.app.casefold() in headline.casefold())
        k.signals["hl_country"] = float(d.country in headline_countries)
        k.signals["quoted"] = float(bool(re.search(r"[\"“”«»„]", d.evidence)))


def _article_candidate(
    sentences: list[str],
    ctx: _Context,
    found: list[Candidate],
    article_id: str,
    pub: dt.date,
) -> Candidate | None:
    """The article's main actor acting on its main app, when no clause said so in words the cue
    lists know ("drops Russian security software", "cancelled the filtering"). Its action and
    scope are the cue families' best guess over headline and lead; only the model can take it.
    """
    actor, app = ctx.actor, ctx.app
    if actor is None or not app or not sentences[0]:
        return None
    if any(k.detection.country == actor.country and k.detection.app == app for k in found):
        return None
    lead = " ".join(sentences[:4])
    lift = lx.LIFT.search(lead)
    if lift and not lx.LIFT_NOT_YET.search(lead[: lift.start()]):
        action = "lifted"
    elif lx.PROPOSE.search(lead) or lx.MODAL.search(lead):
        action = "proposed"
    else:
        action = "ban"
    if lx.GOV_DEVICES.search(lead):
        scope = "government_devices"
    elif lx.OTHER_SCOPE.search(lead):
        scope = "other"
    else:
        scope = "nationwide"
    evidence = next((s for s in sentences[:4] if app.casefold() in s.casefold()), sentences[0])
    det = Detection(
        article_id=article_id,
        jurisdiction=actor.jurisdiction,
        country=actor.country,
        subdivision=actor.subdivision,
        level=actor.level,
        app=app,
        scope=scope,
        action=action,
        announced_on=pub,
        evidence=evidence,
        confidence=0.3,
        body=actor.body if scope == "government_devices" else "",
        background=False,
        scope_explicit=scope != "nationwide",
    )
    signals = {
        "fallback": 1.0,
        "in_catalogue": float(ctx.app_in_catalogue),
        f"action={action}": 1.0,
        f"level={actor.level}": 1.0,
        f"named_as={actor.named_as or 'none'}": 1.0,
        "main_app": 1.0,
        "main_actor": 1.0,
        "support": 0.0,
    }
    return Candidate(det, signals, rule_keep=False)


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
    _lead_app_and_actor(ctx, lead, catalogue)
    if not ctx.app and ctx.calls_app and sentences[0]:
        found = _trigger(sentences[0])
        unknown = found and name_near_action(sentences[0], found[1].start(), found[1].end())
        if unknown:
            ctx.app, ctx.app_in_catalogue = unknown.app, False
    if ctx.actor is None:
        # the feed's own country (config `[[feeds]] country`) beats the language's home state
        home = home_country or _HOME_COUNTRY.get((language or "")[:2].lower())
        ctx.actor = _unnamed_actor(sentences, home)
    _subdivision_actors(ctx, sentences)
    return ctx


def _lead_app_and_actor(ctx: _Context, lead: list[str], catalogue: AppCatalogue) -> None:
    """The first app named and the first place or body that acts, sentence by sentence."""
    for s in lead:
        named = [a for a in catalogue.find(s) if not a.generic]
        if named and not ctx.app:
            ctx.app = named[0].app
        if ctx.actor is None and not lx.BACKGROUND.search(s):
            # a sentence recalling other countries' bans does not say who acts today
            ctx.actor = _first_actor(s)
        if ctx.app and ctx.actor:
            break


def _first_actor(sentence: str) -> _Actor | None:
    """The first mention that can act, a body without a country excepted."""
    for a in find_actors(sentence):
        if a.kind == "body" and not a.country:
            continue
        if _is_actor(sentence, a):
            return _actor_of(a, _with_body(sentence, a, find_actors(sentence)), explicit=False)
    return None


def _unnamed_actor(sentences: list[str], home: str | None) -> _Actor | None:
    """The actor of an article whose title and lead name none: its home state's government
    where a body acts in the first two sentences, else the first place it names at all."""
    if home and any(
        a.kind == "body" and a.body not in ("leader", "police")
        for s in sentences[:2]
        for a in find_actors(s)
    ):
        return _Actor(country_name(home), home, None, "national", "", False, "government")
    # A domestic story may never name its country as an actor ("IT teams across
    # Whitehall"): the first place it names at all is the best guess.
    return next(
        (
            _actor_of(a, "", explicit=False)
            for s in sentences
            for a in find_actors(s)
            if a.kind in ("country", "capital", "subdivision", "region", "territory")
            or (a.kind == "body" and a.country)
        ),
        None,
    )


def _subdivision_actors(ctx: _Context, sentences: list[str]) -> None:
    """The first sub-national unit named (`ctx.subdivision`) and one named with a body in the
    lead (`ctx.sub_body`), up to the sentence that names the first."""
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
    ctx: _Context,
    *,
    not_news: bool = False,
    eu_hint: str = "",
) -> list[Candidate]:
    """Turn clause candidates into the article's candidate detections, each with the signals the
    rules saw. `rule_keep` is the rules' own verdict (news first, then background); the learned
    model reads every candidate, so a step the rules set aside can still be taken."""
    assembly = _Assembly(cands, article_id, pub, ctx, not_news=not_news, eu_hint=eu_hint)
    for c in cands:
        for actor in c.actors:
            assembly.add(c, actor)
    found = list(assembly.out.values())
    _mark_unscoped_twins(found)
    found.sort(key=lambda k: (not k.rule_keep, k.detection.background, -k.detection.confidence))
    return found


def _recalled(c: _Candidate) -> bool:
    """A clause that dates itself old or recalls (below the headline) states no news."""
    return c.stated_old or (c.recall_cue and c.index > 0)


@dataclass
class _Reading:
    """One clause candidate read for one of its actors: the fields its detection gets and why
    the rules take it for background."""

    c: _Candidate
    actor: _Actor
    scope: str
    body: str
    why: dict[str, bool]
    background: bool
    second_app: bool = False
    announced: dt.date | None = None


class _Assembly:
    """The article's candidates filed in reading order. The first news step sets the main
    country; one actor has one news event per article (a second app is the same multi-app
    step, another action an older state); repeats of a step merge into its first reading."""

    def __init__(
        self,
        cands: list[_Candidate],
        article_id: str,
        pub: dt.date,
        ctx: _Context,
        *,
        not_news: bool,
        eu_hint: str,
    ) -> None:
        self.cands, self.article_id, self.pub, self.ctx = cands, article_id, pub, ctx
        self.not_news = not_news
        # Scope stated anywhere in the article for an (actor, app) beats a default scope: the
        # headline says "bans TikTok", the lead says "on government phones".
        self.stated_scope: dict[tuple, str] = {}
        for c in cands:
            if c.scope_explicit and not _recalled(c):
                for a in c.actors:
                    self.stated_scope.setdefault((a.country, a.subdivision or "", c.app), c.scope)
        self.explicit_news_countries = {
            a.country for c in cands if not _recalled(c) for a in c.actors if a.explicit
        }
        self.eu_body = next(
            (a.body for c in cands for a in c.actors if a.country == "EU" and a.body), eu_hint
        )
        self.out: dict[tuple, Candidate] = {}
        self.main_country: str | None = None
        self.news: dict[tuple, tuple] = {}  # (country, subdivision, body) -> key of its news
        self.dated: set[tuple] = set()  # keys whose date comes from a stated time phrase

    def add(self, c: _Candidate, actor: _Actor) -> None:
        """Read one (clause candidate, actor) and file its detection."""
        r = self._read(c, actor)
        det = Detection(
            article_id=self.article_id,
            jurisdiction=r.actor.jurisdiction,
            country=r.actor.country,
            subdivision=r.actor.subdivision,
            level=r.actor.level,
            app=c.app,
            scope=r.scope,
            action=c.action,
            announced_on=r.announced,
            evidence=c.evidence,
            confidence=_confidence(c, r.actor, r.background),
            body=r.body,
            background=r.background,
            scope_explicit=c.scope_explicit or r.scope != "nationwide",
        )
        key = (det.country, det.subdivision or "", det.app, det.scope, det.body, det.action)
        if not r.background and not r.second_app:
            self.news.setdefault((r.actor.country, r.actor.subdivision or "", r.body), key)
        self._file(key, det, _signals(r, self.ctx, self.pub), r)

    def _read(self, c: _Candidate, actor: _Actor) -> _Reading:
        actor, scope, body = self._fields(c, actor)
        why = self._background_reasons(c, actor)
        r = _Reading(c, actor, scope, body, why, background=any(why.values()))
        if not r.background:
            self._one_news_per_actor(r)
        if not r.background and not r.second_app and self.main_country is None:
            self.main_country = actor.country
        r.announced = c.announced if c.announced else self.pub
        if r.background and not c.stated_old:
            r.announced = c.announced if c.announced != self.pub else None
        return r

    def _fields(self, c: _Candidate, actor: _Actor) -> tuple[_Actor, str, str]:
        """(actor, scope, body): an EU actor gets the institution the article names; a default
        scope the one stated elsewhere; a body only for a rule on its own devices."""
        if actor.country == "EU" and not actor.body and self.eu_body:
            actor = replace(actor, body=self.eu_body, jurisdiction=self.eu_body)
        scope = (
            c.scope
            if c.scope_explicit
            else self.stated_scope.get((actor.country, actor.subdivision or "", c.app), c.scope)
        )
        body = actor.body if scope == "government_devices" else ""
        if c.action == "proposed" and actor.level != "supranational":
            body = ""  # a bill or plan is the state's, not a body's rule for its own devices
        if body != actor.body:
            actor = replace(actor, body=body)
        return actor, scope, body

    def _background_reasons(self, c: _Candidate, actor: _Actor) -> dict[str, bool]:
        """Each reason the rules see for taking the reading as recalled background."""
        main = self.main_country
        return {
            "bg_not_news": self.not_news,
            "bg_stated_old": c.stated_old,
            "bg_recall": c.recall_cue and c.index > 0,
            "bg_other_country": main is not None and actor.country != main,
            "bg_recalled_actor": not actor.explicit
            and actor.country not in self.explicit_news_countries
            and any(
                a.explicit and a.country == actor.country for d in self.cands for a in d.actors
            ),
            "bg_deep_implicit": main is not None and c.index > 3 and not actor.explicit,
        }

    def _one_news_per_actor(self, r: _Reading) -> None:
        """A second news reading of an actor already filed: another app is the same multi-app
        step (filed under the first), another action an older state."""
        holder = (r.actor.country, r.actor.subdivision or "", r.body)
        if holder not in self.news:
            return
        prev = self.out[self.news[holder]].detection
        if (prev.app, prev.action) == (r.c.app, r.c.action):
            return
        if prev.action != r.c.action:
            r.background = r.why["bg_older_state"] = True
        else:
            r.second_app = True

    def _file(self, key: tuple, det: Detection, signals: dict[str, float], r: _Reading) -> None:
        """The first reading of a step (news over background) is filed; a repeat adds support,
        a higher confidence, and a stated date where the first had none."""
        prev_cand = self.out.get(key)
        if prev_cand is None or (prev_cand.detection.background and not r.background):
            self.out[key] = Candidate(det, signals, rule_keep=not r.second_app)
            if r.c.date_stated:
                self.dated.add(key)
            return
        prev_cand.signals["support"] += 1
        prev = prev_cand.detection
        if prev.background != r.background:
            return
        merged = prev
        if det.confidence > prev.confidence:
            merged = replace(merged, confidence=det.confidence)
        if r.c.date_stated and key not in self.dated:
            # the headline has no date; the lead says "on Thursday"
            merged = replace(merged, announced_on=det.announced_on)
            self.dated.add(key)
        prev_cand.detection = merged


def _signals(r: _Reading, ctx: _Context, pub: dt.date) -> dict[str, float]:
    """What the rules saw of one candidate, as numbers for the learned model."""
    c, actor = r.c, r.actor
    gap = (pub - r.announced).days if r.announced else 0
    sig: dict[str, float] = {
        "index": float(c.index),
        "headline": float(c.index == 0),
        "lead": float(1 <= c.index <= 3),
        "actor_explicit": float(actor.explicit),
        "app_explicit": float(c.app_explicit),
        "in_catalogue": float(c.in_catalogue),
        "scope_explicit": float(c.scope_explicit),
        "date_stated": float(c.date_stated),
        "recall_cue": float(c.recall_cue),
        "also_cue": float(c.also_cue),
        "weak_proposal": float(c.weak_proposal),
        "main_app": float(c.app == ctx.app),
        "main_actor": float(ctx.actor is not None and ctx.actor.country == actor.country),
        "n_actors": float(len(c.actors)),
        "second_app": float(r.second_app),
        "gap_days": float(max(-30, min(gap, 3650))),
        "gap_old": float(gap > 30),
        "support": 1.0,
        "twin": 0.0,
    }
    sig.update({k: float(v) for k, v in r.why.items()})
    sig[f"action={c.action}"] = 1.0
    sig[f"level={actor.level}"] = 1.0
    sig[f"body_kind={actor.body_kind or 'none'}"] = 1.0
    sig[f"named_as={actor.named_as or 'none'}"] = 1.0
    return sig


def _mark_unscoped_twins(found: list[Candidate]) -> None:
    """One article, one step: a news detection that only defaults its scope ("lifts the ban")
    is the same step as one of the same actor, app and action whose scope the article states."""
    scoped = {
        (d.country, d.subdivision, d.app, d.action)
        for d in (k.detection for k in found)
        if not d.background and d.scope_explicit
    }
    for k in found:
        d = k.detection
        if (
            not d.background
            and not d.scope_explicit
            and (d.country, d.subdivision, d.app, d.action) in scoped
        ):
            k.rule_keep = False
            k.signals["twin"] = 1.0


def _confidence(c: _Candidate, actor: _Actor, background: bool) -> float:
    score = 0.45
    score += 0.2 if actor.explicit else 0.0
    score += 0.15 if c.app_explicit else -0.05
    score += 0.05 if c.in_catalogue else -0.1
    score += 0.1 if c.index <= 1 else (0.0 if c.index <= 3 else -0.1)
    score += 0.05 if c.scope_explicit else 0.0
    score -= 0.05 if c.action == "proposed" else 0.0
    return round(max(0.05, min(0.99, score)), 2)
