"""Event keying and novelty: which detections are new events, which only add a source.

A *situation* is (country, subdivision, app, scope, body); each state change on it (proposed ->
ban, ban -> lifted, lifted -> ban re-imposed) is one event with its own date. Forty outlets
reporting the same ban are one event with forty sources, and one email.

Rules, applied per situation with detections in announced_on order:

- A detection joins the situation's latest event at or before its date when the action is the
  same, its last source is at most `events.join_window_days` older, and no background mention
  records a different state in between (a ban lifted in between makes a later ban a new event).
  A detection dated up to `events.join_tolerance_days` before the next event with the same
  action joins that one (outlets date the same news differently). Otherwise it starts a new event.
- A detection that does not state its scope continues the situation in force on its
  (country, subdivision, app) (`inherit_scopes`): "lifts its ban" ends whatever ban there is.
- Background detections (older events an article only recalls) become mentions. They never
  create an event or an alert, but they are evidence of prior states: a detection that only
  restates a state a mention already recorded more than `recency_days` earlier is recorded as
  historical, because that state is old news.
- An event is historical (recorded, never emailed) when its announced_on is more than
  `recency_days` before it was first seen.
- An event's status (`event_status`): `candidate` while its confidence (the max over its
  sources) is below `min_confidence`, else `historical` or `news`. Only news is emailed. A known
  candidate that later coverage lifts to `min_confidence` is promoted (`Resolution.promoted`
  when it becomes news); a news or historical event never goes back to candidate.
- event_id = sha1 of situation, action and the first detection's date: re-running a batch gives
  the same ids. An event's fields are decided by all its sources (`merge_event_fields`).

Pure: no DuckDB, no clock. The warehouse supplies `history` and stores the `Resolution`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from banwatch.config import EventSettings
from banwatch.records import (
    Action,
    Detection,
    Event,
    EventState,
    EventStatus,
    Holder,
    KnownState,
    Resolution,
    Situation,
    Source,
)

logger = logging.getLogger(__name__)

# The join windows (how early a source may date an event, how long coverage continues one, how
# close an unscoped ban must be to inherit a scope) are settings: `[events]` in the config.
DEFAULT_POLICY = EventSettings()


@dataclass
class _Working:
    """An event being built or extended while the batch is resolved."""

    event: Event
    sources: dict[str, Source]  # by article_id
    is_new: bool
    added: list[str] = field(default_factory=list)  # article ids of sources from this batch
    force_historical: bool = False

    @property
    def action(self) -> str:
        return self.event.action

    @property
    def date(self) -> dt.date:
        return self.event.announced_on or dt.date.min

    @property
    def last_reported(self) -> dt.date:
        """The latest date any of its sources gives (the event's own date if none)."""
        dates = [s.announced_on for s in self.sources.values() if s.announced_on]
        return max([self.date, *dates])


def event_id_for(situation: Situation, action: str, announced_on: dt.date) -> str:
    """Stable id of the event a situation's state change starts (16 hex chars)."""
    key = "|".join([*situation, action, announced_on.isoformat()])
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def _majority(values: Sequence[tuple[str, float]]) -> str:
    """Most frequent value; ties go to the higher summed confidence, then alphabetical order."""
    counts: Counter[str] = Counter()
    weight: Counter[str] = Counter()
    for value, confidence in values:
        counts[value] += 1
        weight[value] += confidence
    return min(counts, key=lambda v: (-counts[v], -weight[v], v))


def combined_confidence(sources: Sequence[Source]) -> float:
    """The most confident source's (calibrated) confidence, clamped to 0..1.

    Not noisy-OR: outlets covering one story copy one wire report, so their errors are
    correlated, and multiplying their calibrated per-article probabilities as if independent
    would turn ten 0.5s into a false 0.999 and email a candidate as news.
    """
    return round(max((min(max(s.confidence, 0.0), 1.0) for s in sources), default=0.0), 4)


def event_status(confidence: float, historical: bool, min_confidence: float) -> EventStatus:
    """`candidate` below `min_confidence` (never emailed one by one), else historical or news."""
    if confidence < min_confidence:
        return EventStatus.CANDIDATE
    return EventStatus.HISTORICAL if historical else EventStatus.NEWS


def merge_event_fields(event: Event, sources: Sequence[Source]) -> Event:
    """Decide an event's fields from all its sources, not the first alone.

    Majority jurisdiction and level, median announced_on (the lower middle one), evidence and
    url of the most confident source, confidence of the most confident source.
    """
    if not sources:
        return event
    best = min(sources, key=lambda s: (-s.confidence, s.article_id))
    dates = sorted(s.announced_on for s in sources if s.announced_on is not None)
    return dataclasses.replace(
        event,
        jurisdiction=_majority([(s.jurisdiction, s.confidence) for s in sources]),
        level=_majority([(s.level, s.confidence) for s in sources]),
        announced_on=dates[(len(dates) - 1) // 2] if dates else event.announced_on,
        evidence=best.evidence,
        url=best.url,
        confidence=combined_confidence(sources),
        source_count=len({s.outlet for s in sources}),
    )


# The state an event's step recalls without looking back: a lifting ends the ban, an
# enactment completes the proposal, a bill's later steps continue the proposal.
_CONTINUES = {
    Action.LIFTED: Action.BAN,
    Action.BAN: Action.PROPOSED,
    Action.PROPOSED: Action.PROPOSED,
}


def _story_confidence(w: _Working, story: str, stories: Mapping[str, str]) -> float:
    """The surest reading of `story`'s articles among `w`'s sources."""
    return max((s.confidence for a, s in w.sources.items() if stories.get(a) == story), default=0.0)


def _outvotes(story_event: _Working, own: _Working) -> bool:
    """Could `story_event` be what `own`'s reading misread: the same app and country, no place
    `own` names that it lacks; another state, scope or date (a reading that took an older
    date from the text lands on an older event). Another country or app is another
    development, whatever the stories step grouped."""
    a, b = story_event.event, own.event
    return (
        a.country == b.country
        and a.app == b.app
        and (b.subdivision or "") in ("", a.subdivision or "")
        and (b.body or "") in ("", a.body or "")
    )


def _outlet(article_id: str, urls: Mapping[str, str], outlets: Mapping[str, str]) -> str:
    return outlets.get(article_id) or urlsplit(urls.get(article_id, "")).hostname or article_id


def _prior(timeline: list[_Working], date: dt.date, action: str) -> _Working | None:
    """Latest event at or before `date`; among same-day events, one with `action` wins."""
    before = [w for w in timeline if w.date <= date]
    if not before:
        return None
    last_day = before[-1].date
    same_day = [w for w in before if w.date == last_day]
    return next((w for w in same_day if w.action == action), same_day[-1])


def _interrupted(mentions: list[EventState], start: dt.date, end: dt.date, action: str) -> bool:
    """Does a mention record another state (not a mere proposal) in (start, end]?"""
    return any(
        m.action != action and m.action != Action.PROPOSED and start < m.announced_on <= end  # type: ignore[operator]
        for m in mentions
    )


def _find(
    timeline: list[_Working],
    mentions: list[EventState],
    date: dt.date,
    action: str,
    policy: EventSettings,
) -> _Working | None:
    prior = _prior(timeline, date, action)
    if (
        prior
        and prior.action == action
        and (date - prior.last_reported).days <= policy.join_window_days
        and not _interrupted(mentions, prior.date, date, action)
    ):
        return prior
    later = next((w for w in timeline if w.date > date), None)
    if (
        later
        and later.action == action
        and (later.date - date).days <= policy.join_tolerance_days
        and not _interrupted(mentions, date, later.date, action)
    ):
        return later
    return None


def _restates_old_mention(
    mentions: list[EventState],
    timeline: list[_Working],
    d: Detection,
    date: dt.date,
    *,
    days: int,
    seen_at: Mapping[str, dt.datetime],
) -> bool:
    """Is the latest known state before `date` another article's mention of this state, long ago?

    Mentions in the detection's own article do not count: "X bans the app again, after its
    first ban in 2020" is news (a re-imposition), while an undated re-report of a state that
    other articles recall as years old is not.
    """
    event = object()  # marks an event among the states
    own_seen = seen_at.get(d.article_id)

    def known_before(m: EventState) -> bool:
        # a mention from an article seen later (later in a backfill batch) was not known yet
        seen = seen_at.get(m.article_id)
        return seen is None or own_seen is None or seen <= own_seen

    states: list[tuple[dt.date, str, object]] = [
        (m.announced_on, m.action, m.article_id)
        for m in mentions
        if m.announced_on and m.announced_on <= date and known_before(m)
    ]
    states += [(w.date, w.action, event) for w in timeline if w.date <= date]
    if not states:
        return False
    when = max(s[0] for s in states)
    for _, action, origin in (s for s in states if s[0] == when):
        if origin is event or origin == d.article_id or action != d.action:
            return False  # an event, this article's own recollection, or another state
    return (date - when).days > days


def holder_of(d: Detection) -> Holder:
    return (d.country, d.subdivision or "", d.app)


def inherit_scopes(
    detections: Sequence[Detection],
    known: Mapping[Holder, Sequence[KnownState]],
    policy: EventSettings = DEFAULT_POLICY,
) -> list[Detection]:
    """Give a detection that does not state its scope the scope of the situation it continues.

    "Italy lifts its ChatGPT block" ends the ban the data-protection authority imposed (scope
    `other`), not a nationwide one. A lifting with no stated scope takes the scope of the latest
    ban in force on (country, subdivision, app) at its date; a ban with no stated scope does so
    only within `events.inherit_ban_days` of that ban, since a later, wider ban is news of its own.
    `known` holds the warehouse's states; the batch's own scoped detections count too.
    """
    states: dict[Holder, list[KnownState]] = {k: list(v) for k, v in known.items()}
    for d in detections:
        if d.scope_explicit and d.announced_on:
            states.setdefault(holder_of(d), []).append(
                (d.scope, d.body, d.action, d.announced_on, d.article_id)
            )
    out = []
    for d in detections:
        # a lifting ends a ban in force whatever its wording says; a ban only when unscoped
        unscoped = not d.scope_explicit or d.action == Action.LIFTED
        if d.background or not unscoped or d.action == Action.PROPOSED or not d.announced_on:
            out.append(d)
            continue
        others = [st for st in states.get(holder_of(d), ()) if st[4] != d.article_id]
        in_force = _bans_in_force(others, d.announced_on)
        scoped = None
        if in_force and (d.scope, d.body) not in {(s, b) for s, b, _ in in_force}:
            scope, body, since = in_force[-1]
            if (
                d.action == Action.LIFTED
                or (d.announced_on - since).days <= policy.inherit_ban_days
            ):
                scoped = dataclasses.replace(d, scope=scope, body=body, scope_explicit=True)
                logger.debug("scope of %s inherited: %s -> %s", d.article_id, d.scope, scope)
        out.append(scoped or d)
    return out


def _bans_in_force(states: Sequence[KnownState], on: dt.date) -> list[tuple[str, str, dt.date]]:
    """(scope, body, since) of each scope whose latest state on or before `on` is a ban."""
    latest: dict[tuple[str, str], tuple[dt.date, str]] = {}
    for scope, body, action, when, _article in states:
        if when <= on and action != Action.PROPOSED:
            if (scope, body) not in latest or when >= latest[(scope, body)][0]:
                latest[(scope, body)] = (when, action)
    found = [(s, b, when) for (s, b), (when, action) in latest.items() if action == Action.BAN]
    return sorted(found, key=lambda x: x[2])


@dataclass(frozen=True)
class Sourcing:
    """The join windows (`events`, `[events]`) and what makes an article a source beyond its
    own sure detection.

    A detection below `start_confidence` (the detector's floor, `detect.min_confidence`: a
    weak reading `detect_ban_events(join_confidence=)` kept) only adds a source to an event
    surer detections started, stored or in this batch, under the same join rules; alone it
    starts nothing. `stories` (article id -> story id, the stories step's grouping) lets an
    article with no news reading of its own count as a source of the event its story resolved
    to (`_Batch.attach_story_mates`): the sources of an event are its whole story's outlets;
    and an article whose reading is a vaguer or re-dated copy of an event its story resolved to
    joins that event (`_Batch.follow_stories`).
    """

    events: EventSettings = DEFAULT_POLICY
    start_confidence: float = 0.0
    stories: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Batch:
    """What resolving one batch needs about its articles, and the situations' timelines."""

    seen_at: Mapping[str, dt.datetime]
    recency_days: int
    urls: Mapping[str, str]
    outlets: Mapping[str, str]
    min_confidence: float
    policy: EventSettings = DEFAULT_POLICY
    timelines: dict[Situation, list[_Working]] = field(default_factory=dict)
    mentions: dict[Situation, list[EventState]] = field(default_factory=dict)

    def know(self, history: Mapping[Situation, Sequence[EventState]], mentioned: list[Detection]):
        """Timelines of the stored events, and the mentions stored and in this batch."""
        for situation, states in history.items():
            self.timelines[situation] = [
                _Working(s.event, {src.article_id: src for src in s.sources}, is_new=False)
                for s in states
                if s.event is not None
            ]
            self.mentions[situation] = [s for s in states if s.is_mention and s.announced_on]
        for d in mentioned:
            if d.announced_on:
                self.mentions.setdefault(d.situation, []).append(
                    EventState(d.action, d.announced_on, article_id=d.article_id)
                )

    def date_of(self, d: Detection) -> dt.date | None:
        seen = self.seen_at.get(d.article_id)
        return d.announced_on or (seen.date() if seen else None)

    def target(self, d: Detection, date: dt.date) -> _Working:
        """The event `d` joins: a known one, or a new one it starts."""
        timeline = self.timelines.setdefault(d.situation, [])
        known = self.mentions.get(d.situation, [])
        target = _find(timeline, known, date, d.action, self.policy)
        if target is not None:
            return target
        event_id = event_id_for(d.situation, d.action, date)
        target = next((w for w in timeline if w.event.event_id == event_id), None)
        if target is not None:
            return target
        seen = self.seen_at.get(d.article_id) or dt.datetime.combine(date, dt.time(), dt.UTC)
        url = self.urls.get(d.article_id, "")
        target = _Working(
            Event.first_reported(d, event_id, announced_on=date, first_seen_at=seen, url=url),
            {},
            is_new=True,
            force_historical=_restates_old_mention(
                known, timeline, d, date, days=self.recency_days, seen_at=self.seen_at
            ),
        )
        timeline.append(target)
        timeline.sort(key=lambda w: (w.date, w.event.event_id))
        return target

    def existing(self, d: Detection, date: dt.date) -> _Working | None:
        """The known event a weak detection joins, if any (it never starts one)."""
        timeline = self.timelines.get(d.situation, [])
        return _find(timeline, self.mentions.get(d.situation, []), date, d.action, self.policy)

    def add_source(
        self, target: _Working, d: Detection, date: dt.date, *, weak: bool = False
    ) -> None:
        """One source per article: its most confident sentence. A stored source is kept. A weak
        source (below the start floor) does not make the event first seen earlier: nothing
        would have reported the event from it alone."""
        current = target.sources.get(d.article_id)
        if current is not None and not (
            d.article_id in target.added and d.confidence > current.confidence
        ):
            return
        target.sources[d.article_id] = Source(
            event_id=target.event.event_id,
            article_id=d.article_id,
            url=self.urls.get(d.article_id, ""),
            outlet=_outlet(d.article_id, self.urls, self.outlets),
            evidence=d.evidence,
            confidence=d.confidence,
            announced_on=date,
            jurisdiction=d.jurisdiction,
            level=d.level,
        )
        if d.article_id not in target.added:
            target.added.append(d.article_id)
        if target.is_new and not weak and d.article_id in self.seen_at:
            first = min(target.event.first_seen_at, self.seen_at[d.article_id])
            target.event = dataclasses.replace(target.event, first_seen_at=first)

    def drop_secondary_sources(self, placed: Sequence[tuple[Detection, _Working]]) -> None:
        """An article is a source of its main news only: the event of its most confident
        reading. Its other readings ("days after a neighbour barred the app", the
        ban a lifting ends) add it to another event only when no article has that event as its
        main news and no stored source holds it: then they are all the coverage it has."""
        main: dict[str, tuple[float, _Working]] = {}
        for d, w in placed:
            if d.article_id not in main or d.confidence > main[d.article_id][0]:
                main[d.article_id] = (d.confidence, w)
        for d, w in placed:
            article_id = d.article_id
            if main[article_id][1] is w or article_id not in w.added:
                continue
            if any(a != article_id and (a not in main or main[a][1] is w) for a in w.sources):
                del w.sources[article_id]
                w.added.remove(article_id)
                self._reset_first_seen(w)

    def follow_stories(
        self, stories: Mapping[str, str], placed: Sequence[tuple[Detection, _Working]]
    ) -> None:
        """An article whose own reading lands on a vaguer or differently dated copy of an event
        its story resolved to joins that event instead.

        The stories step decided the articles are one development; the detector, reading each
        alone, may miss the state ("a ban on staff phones" next to "the state of X bans ..."),
        or date the news a day off, and so start a second event nobody else reports. The
        reading is kept where it says something the story's event does not: another country,
        app or place. The story's event must hold more of the story's articles, or as many and
        name the place more precisely.

        A reading of another state, scope or date of the same app and place ("a bill to ban"
        where the story's other outlets report the ban) is outvoted (`_outvotes`): it joins
        the event that holds more of the story's articles, or as many through a surer reading,
        and takes that event's date and place, and at most its confidence, since its own
        reading was of something the story did not report. Only this batch's readings move
        (stored sources stay)."""
        working = [w for timeline in self.timelines.values() for w in timeline]
        in_story: dict[str, Counter[int]] = {}
        holds = {id(w): w for w in working}
        for w in working:
            for article_id in w.sources:
                if article_id in stories:
                    in_story.setdefault(stories[article_id], Counter())[id(w)] += 1
        for article_id, (d, w) in sorted(self._main_readings(placed).items()):
            counts = in_story.get(stories.get(article_id, ""))
            if not counts or article_id not in w.added:
                continue
            story = stories[article_id]
            rivals = [holds[k] for k in counts if k in holds and holds[k] is not w]
            target = self._refined_by(rivals, counts, w)
            if target is not None:
                date = self.date_of(d) or target.date
            else:
                target = self._outvoted_by(rivals, counts, w, story, stories)
                if target is None:
                    continue
                sure = _story_confidence(target, story, stories)
                d = dataclasses.replace(
                    d,
                    jurisdiction=target.event.jurisdiction,
                    level=target.event.level,
                    confidence=min(d.confidence, sure),
                )
                date = target.date
            del w.sources[article_id]
            w.added.remove(article_id)
            self._reset_first_seen(w)
            if w.is_new and not w.sources:  # no one else reported it: it was never an event
                self.timelines[d.situation].remove(w)
                holds.pop(id(w))
            self.add_source(target, d, date)

    def _refined_by(
        self, rivals: Sequence[_Working], counts: Counter[int], own: _Working
    ) -> _Working | None:
        """The story's event that states `own` more precisely or is held by more articles."""
        better = [(counts[id(r)], self._precision(r), r) for r in rivals if self._refines(r, own)]
        if not better:
            return None
        n, precision, target = max(better, key=lambda b: (b[0], b[1], b[2].event.event_id))
        if (n, precision) <= (counts[id(own)], self._precision(own)):
            return None
        return target

    def _outvoted_by(
        self,
        rivals: Sequence[_Working],
        counts: Counter[int],
        own: _Working,
        story: str,
        stories: Mapping[str, str],
    ) -> _Working | None:
        """The story's event of another state or scope that outvotes `own`'s reading: held by
        more of the story's articles, or as many with a surer reading."""
        votes = [
            (counts[id(r)], _story_confidence(r, story, stories), r)
            for r in rivals
            if _outvotes(r, own)
        ]
        if not votes:
            return None
        n, sure, target = max(votes, key=lambda v: (v[0], v[1], v[2].event.event_id))
        if (n, sure) <= (counts[id(own)], _story_confidence(own, story, stories)):
            return None
        return target

    @staticmethod
    def _main_readings(
        placed: Sequence[tuple[Detection, _Working]],
    ) -> dict[str, tuple[Detection, _Working]]:
        """Each article's most confident placed reading (its main news)."""
        main: dict[str, tuple[Detection, _Working]] = {}
        for d, w in placed:
            if d.article_id not in main or d.confidence > main[d.article_id][0].confidence:
                main[d.article_id] = (d, w)
        return main

    @staticmethod
    def _precision(w: _Working) -> int:
        """How many of the optional parts of its situation an event names."""
        return bool(w.event.subdivision) + bool(w.event.body)

    def _refines(self, story_event: _Working, own: _Working) -> bool:
        """Is `story_event` the same state as `own`, stated as precisely or more, and dated
        within the window that continues an event?"""
        a, b = story_event.event, own.event
        return (
            a.country == b.country
            and a.app == b.app
            and a.scope == b.scope
            and a.action == b.action
            and (b.subdivision or "") in ("", a.subdivision or "")
            and (b.body or "") in ("", a.body or "")
            and abs((story_event.date - own.date).days) <= self.policy.join_window_days
        )

    def _reset_first_seen(self, w: _Working) -> None:
        """A new event is first seen with the earliest of the sources it keeps."""
        seen = [self.seen_at[a] for a in w.sources if a in self.seen_at]
        if w.is_new and seen:
            w.event = dataclasses.replace(w.event, first_seen_at=min(seen))

    def attach_story_mates(self, stories: Mapping[str, str], detections: Sequence[Detection]):
        """Articles of a story with no news reading of their own ("the video app is back on
        phones": no app named) become sources of the event their story's other articles
        resolved to, when one event has most of them. An article that recalls a state of that
        event's app and place is left alone: it may be about an older state, or look back at
        this one (an op-ed on the ban, an explainer). Recalling the state the event ends or
        continues (`_CONTINUES`: the ban a lifting ends, the bill a ban enacts) does not count."""
        working = [w for timeline in self.timelines.values() for w in timeline]
        by_id = {w.event.event_id: w for w in working}
        sourced = {a for w in working for a in w.sources}
        in_story: dict[str, Counter[str]] = {}
        for w in working:
            for article_id in w.sources:
                if article_id in stories:
                    in_story.setdefault(stories[article_id], Counter())[w.event.event_id] += 1
        recalled: dict[str, set[tuple[Holder, str]]] = {}
        for d in detections:
            if d.background:
                recalled.setdefault(d.article_id, set()).add((holder_of(d), d.action))
        for article_id, story in sorted(stories.items()):
            counts = in_story.get(story)
            if article_id in sourced or article_id not in self.seen_at or not counts:
                continue
            (top, n), *rest = counts.most_common(2)
            w = by_id[top]
            holder = (w.event.country, w.event.subdivision or "", w.event.app)
            looks_back = any(
                h == holder and a != _CONTINUES[w.action] for h, a in recalled.get(article_id, ())
            )
            if (rest and rest[0][1] == n) or looks_back:
                continue
            self._add_mate(w, article_id)

    def _add_mate(self, w: _Working, article_id: str) -> None:
        """A source known only through its story: no evidence or confidence of its own."""
        w.sources[article_id] = Source(
            event_id=w.event.event_id,
            article_id=article_id,
            url=self.urls.get(article_id, ""),
            outlet=_outlet(article_id, self.urls, self.outlets),
            evidence="",
            confidence=0.0,
            announced_on=w.date,
            jurisdiction=w.event.jurisdiction,
            level=w.event.level,
        )
        w.added.append(article_id)

    def settle(self, w: _Working, resolution: Resolution) -> None:
        """Merge an event this batch added sources to, and record it as new or updated."""
        merged = merge_event_fields(w.event, list(w.sources.values()))
        resolution.sources.extend(w.sources[a] for a in w.added)
        if w.is_new:
            announced = merged.announced_on
            old = announced is not None and (
                (merged.first_seen_at.date() - announced).days > self.recency_days
            )
            historical = w.force_historical or old
            status = event_status(merged.confidence, historical, self.min_confidence)
            resolution.new_events.append(
                dataclasses.replace(merged, historical=historical, status=status)
            )
            return
        if merged.status == EventStatus.CANDIDATE:
            status = event_status(merged.confidence, merged.historical, self.min_confidence)
            merged = dataclasses.replace(merged, status=status)
            if status == EventStatus.NEWS:
                resolution.promoted[merged.event_id] = _promoted_at(w, self.seen_at)
        if merged != w.event:
            resolution.updated_events.append(merged)


def resolve_events(
    detections: Sequence[Detection],
    history: Mapping[Situation, Sequence[EventState]],
    *,
    seen_at: Mapping[str, dt.datetime],
    recency_days: int,
    urls: Mapping[str, str],
    outlets: Mapping[str, str],
    min_confidence: float = 0.0,
    policy: EventSettings | Sourcing = DEFAULT_POLICY,
) -> Resolution:
    """Turn a batch of detections into new events, new sources, mentions and updated events.

    `history` holds the known states of the detections' situations (from the warehouse),
    `seen_at` when each article was first seen, `urls`/`outlets` each article's URL and outlet,
    `min_confidence` the alerting threshold (`alerts.min_confidence`) below which an event is a
    candidate, `policy` the join windows (`[events]`), or a `Sourcing` holding them and what
    else makes an article a source (weak detections, story mates).
    """
    sourcing = policy if isinstance(policy, Sourcing) else Sourcing(policy)
    policy, start_confidence, stories = sourcing.events, sourcing.start_confidence, sourcing.stories
    resolution = Resolution(mentions=[d for d in detections if d.background])
    batch = _Batch(seen_at, recency_days, urls, outlets, min_confidence, policy)
    batch.know(history, resolution.mentions)
    news = [d for d in detections if not d.background and batch.date_of(d) is not None]
    skipped = sum(1 for d in detections if not d.background) - len(news)
    if skipped:
        logger.warning("%d detections without a date or a first-seen time were ignored", skipped)
    news.sort(key=lambda d: (batch.date_of(d), d.situation, d.action, d.article_id, d.evidence))
    weak = [d for d in news if d.confidence < start_confidence]
    placed: list[tuple[Detection, _Working]] = []
    for d in news:
        date = batch.date_of(d)
        assert date is not None
        if d.confidence >= start_confidence:
            placed.append((d, batch.target(d, date)))
            batch.add_source(placed[-1][1], d, date)
    batch.drop_secondary_sources(placed)
    if stories:
        batch.follow_stories(stories, placed)
    for d in weak:  # after every surer detection, so an event dated later is known too
        date = batch.date_of(d)
        assert date is not None
        target = batch.existing(d, date)
        if target is not None:
            batch.add_source(target, d, date, weak=True)
    if stories:
        batch.attach_story_mates(stories, detections)
    for timeline in batch.timelines.values():
        for w in timeline:
            if w.added:
                batch.settle(w, resolution)
    resolution.new_events.sort(key=lambda e: (e.announced_on or dt.date.min, e.event_id))
    logger.info(
        "novelty: %d new events (%d historical, %d candidates), %d sources, %d mentions, "
        "%d updated events (%d promoted to news)",
        len(resolution.new_events),
        sum(e.historical for e in resolution.new_events),
        sum(e.status == EventStatus.CANDIDATE for e in resolution.new_events),
        len(resolution.sources),
        len(resolution.mentions),
        len(resolution.updated_events),
        len(resolution.promoted),
    )
    return resolution


def _promoted_at(w: _Working, seen_at: Mapping[str, dt.datetime]) -> dt.datetime:
    """When a candidate became news: first seen of the latest source that this batch added."""
    times = [seen_at[a] for a in w.added if a in seen_at]
    return max(times) if times else w.event.first_seen_at
