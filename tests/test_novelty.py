"""Event keying and novelty: one event per state of a situation, sources for later coverage."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import numpy as np
from banwatch.enrich.novelty import Sourcing, merge_event_fields, resolve_events

from banwatch.records import Detection, EventState, Source
from tests.support.factories import make_detection

SEEN = dt.datetime(2025, 3, 10, 9, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 3, 9)


def det(article_id: str, **kw) -> Detection:
    """Norway's TikTok ban announced on DAY, with evidence that names its article."""
    fields = {
        "announced_on": DAY,
        "evidence": f"Officials in Oslo barred the app from work phones ({article_id}).",
        "confidence": 0.7,
    }
    return make_detection(article_id, **{**fields, **kw})


def resolve(detections, history=None, *, seen=None, outlets=None, recency_days=14):
    ids = {d.article_id for d in detections}
    return resolve_events(
        detections,
        history or {},
        seen_at=seen or {a: SEEN for a in ids},
        recency_days=recency_days,
        urls={a: f"https://example.org/{a}" for a in ids},
        outlets=outlets or {a: f"outlet-{a}" for a in ids},
    )


def as_history(resolution) -> dict:
    """What the warehouse would hand back after storing `resolution`."""
    history: dict = {}
    for event in resolution.new_events:
        situation = (event.country, event.subdivision or "", event.app, event.scope, event.body)
        sources = tuple(s for s in resolution.sources if s.event_id == event.event_id)
        history.setdefault(situation, []).append(
            EventState(event.action, event.announced_on, event, sources)
        )
    return history


def test_forty_outlets_make_one_event_with_forty_sources():
    detections = [det(f"a{i:02d}") for i in range(40)]
    res = resolve(detections)
    (event,) = res.new_events
    assert len(res.sources) == 40 and {s.event_id for s in res.sources} == {event.event_id}
    assert event.source_count == 40 and not event.historical
    assert event.confidence == 0.7  # the best source's: correlated copies add no certainty
    assert event.first_seen_at == SEEN


def test_outlets_count_once_and_an_article_is_one_source():
    detections = [det("a1"), det("a1", evidence="A second sentence.", confidence=0.9), det("a2")]
    res = resolve(detections, outlets={"a1": "Same Paper", "a2": "Same Paper"})
    (event,) = res.new_events
    assert event.source_count == 1
    assert sorted(s.article_id for s in res.sources) == ["a1", "a2"]
    assert event.evidence == "A second sentence."  # the most confident sentence
    assert event.confidence == 0.9


def test_background_detections_are_mentions_only():
    old = det(
        "a1", country="IN", jurisdiction="India", announced_on=dt.date(2020, 6, 29), background=True
    )
    res = resolve([old])
    assert res.new_events == [] and res.sources == [] and res.mentions == [old]


def test_each_state_change_is_a_new_event_with_its_own_date():
    states = [
        ("proposed", dt.date(2024, 1, 5)),
        ("ban", dt.date(2024, 2, 1)),
        ("lifted", dt.date(2024, 9, 1)),
        ("ban", dt.date(2025, 3, 9)),
    ]
    detections = [det(f"a{i}", action=a, announced_on=d) for i, (a, d) in enumerate(states)]
    seen = {f"a{i}": dt.datetime.combine(d, dt.time(12), dt.UTC) for i, (_, d) in enumerate(states)}
    res = resolve(detections, seen=seen)
    assert [(e.action, e.announced_on) for e in res.new_events] == states
    assert len({e.event_id for e in res.new_events}) == 4
    assert not any(e.historical for e in res.new_events)


def test_later_coverage_adds_a_source_never_a_second_event():
    first = resolve([det("a1")])
    later = det("a2", announced_on=DAY + dt.timedelta(days=20))  # a follow-up piece
    res = resolve([later], as_history(first), seen={"a2": SEEN + dt.timedelta(days=20)})
    assert res.new_events == []
    (source,) = res.sources
    assert source.event_id == first.new_events[0].event_id and source.article_id == "a2"
    (updated,) = res.updated_events
    assert updated.source_count == 2 and updated.announced_on == DAY  # lower median date


def test_a_source_dating_the_news_a_few_days_early_joins_the_event():
    first = resolve([det("a1")])
    early = det("a2", announced_on=DAY - dt.timedelta(days=3))
    res = resolve([early], as_history(first))
    assert res.new_events == [] and res.sources[0].event_id == first.new_events[0].event_id


def test_rerunning_a_batch_gives_the_same_ids_and_nothing_new():
    detections = [det("a1"), det("a2", app="WeChat"), det("a3", action="proposed")]
    first = resolve(detections)
    shuffled = detections[:]
    random.Random(4).shuffle(shuffled)
    again = resolve(shuffled)
    assert [e.event_id for e in again.new_events] == [e.event_id for e in first.new_events]
    rerun = resolve(detections, as_history(first))
    assert rerun.new_events == [] and rerun.sources == [] and rerun.updated_events == []


def test_bodies_acting_on_their_own_are_separate_events():
    parliament = det(
        "a1",
        country="EU",
        jurisdiction="European Parliament",
        level="supranational",
        body="European Parliament",
    )
    commission = det(
        "a2",
        country="EU",
        jurisdiction="European Commission",
        level="supranational",
        body="European Commission",
        announced_on=DAY - dt.timedelta(days=7),
    )
    res = resolve([parliament, commission])
    assert sorted(e.body for e in res.new_events) == ["European Commission", "European Parliament"]


def test_old_announcements_are_historical():
    archive = det("a1", announced_on=dt.date(2023, 2, 27))
    fresh = det("a2", app="Telegram", announced_on=SEEN.date() - dt.timedelta(days=14))
    res = resolve([archive, fresh])
    by_app = {e.app: e for e in res.new_events}
    assert by_app["TikTok"].historical and not by_app["Telegram"].historical


def test_a_ban_reimposed_after_a_recalled_lifting_is_news():
    first = resolve([det("a1", announced_on=dt.date(2024, 1, 10))])
    history = as_history(first)
    lifted = det("a2", action="lifted", announced_on=dt.date(2024, 6, 1), background=True)
    again = det("a2", announced_on=DAY)
    res = resolve([lifted, again], history)
    (event,) = res.new_events
    assert event.action == "ban" and event.announced_on == DAY and not event.historical


def test_restating_a_long_known_state_is_not_news():
    recalled = det("a1", announced_on=dt.date(2023, 3, 1), background=True)
    restated = det("a2", announced_on=DAY)  # undated re-report, dated by the detector to today
    res = resolve([recalled, restated])
    (event,) = res.new_events
    assert event.historical


def test_merge_event_fields_uses_every_source():
    res = resolve([det("a1")])
    event = res.new_events[0]

    def src(aid, jurisdiction, day, conf):
        return Source(
            event.event_id,
            aid,
            f"https://x.org/{aid}",
            aid,
            f"evidence {aid}",
            conf,
            dt.date(2025, 3, day),
            jurisdiction,
            "national",
        )

    merged = merge_event_fields(
        dataclasses.replace(event, jurisdiction="Norge"),
        [src("b1", "Norway", 9, 0.5), src("b2", "Norge", 7, 0.9), src("b3", "Norway", 10, 0.6)],
    )
    assert merged.jurisdiction == "Norway"  # majority, not the first or the most confident
    assert merged.announced_on == dt.date(2025, 3, 9)  # median
    assert merged.evidence == "evidence b2" and merged.url == "https://x.org/b2"
    assert merged.source_count == 3 and merged.confidence == 0.9  # the max
    assert merged.event_id == event.event_id


def test_a_reimposition_recalling_its_first_ban_is_news():
    first_ban = det("a1", announced_on=dt.date(2020, 7, 1), background=True)
    again = det("a1", announced_on=DAY)  # "bans the app again, after a first ban in 2020"
    res = resolve([first_ban, again])
    (event,) = res.new_events
    assert not event.historical


def test_sources_are_the_articles_resolved_to_the_event_whatever_their_story():
    # a1 starts the event; a2 (another outlet, in another story: a translation, say) and a3 (a1's
    # outlet again, a third story) resolve to it in a later batch: every one is a source, and
    # source_count counts outlets, never stories
    first = resolve([det("a1")])
    (event,) = first.new_events
    second = resolve(
        [det("a2"), det("a3")],
        as_history(first),
        outlets={"a2": "Other Paper", "a3": "outlet-a1"},
    )
    assert not second.new_events
    assert {s.event_id for s in second.sources} == {event.event_id}
    assert sorted(s.article_id for s in second.sources) == ["a2", "a3"]
    (updated,) = second.updated_events
    assert updated.source_count == 2  # outlet-a1 and Other Paper


# --- sources beyond an article's own sure detection (issue 8) ---------------------------------


def resolve_with(detections, policy, *, seen=None, ids=()):
    """`resolve` with a `Sourcing` policy; `ids` adds articles that have no detection."""
    ids = {d.article_id for d in detections} | set(ids)
    return resolve_events(
        detections,
        {},
        seen_at=seen or {a: SEEN for a in ids},
        recency_days=14,
        urls={a: f"https://example.org/{a}" for a in ids},
        outlets={a: f"outlet-{a}" for a in ids},
        policy=policy,
    )


def test_a_weak_detection_adds_a_source_to_an_event_surer_ones_started():
    sure = det("a1", confidence=0.9)
    weak = det("a2", confidence=0.25, announced_on=DAY - dt.timedelta(days=2))
    res = resolve_with([weak, sure], Sourcing(start_confidence=0.4))
    (event,) = res.new_events
    assert event.source_count == 2 and event.confidence == 0.9
    assert {s.article_id for s in res.sources} == {"a1", "a2"}


def test_a_weak_detection_alone_starts_no_event():
    res = resolve_with([det("a1", confidence=0.25)], Sourcing(start_confidence=0.4))
    assert res.new_events == [] and res.sources == []


def test_a_weak_source_does_not_make_the_event_first_seen_earlier():
    early = SEEN - dt.timedelta(days=20)
    seen = {"a1": SEEN, "a2": early}
    res = resolve_with(
        [det("a1", confidence=0.9), det("a2", confidence=0.3)],
        Sourcing(start_confidence=0.4),
        seen=seen,
    )
    (event,) = res.new_events
    assert event.first_seen_at == SEEN and event.source_count == 2


def test_without_a_start_floor_every_detection_may_start_an_event():
    res = resolve_with([det("a1", confidence=0.25)], Sourcing())
    assert len(res.new_events) == 1


def test_a_story_mate_without_a_reading_of_its_own_is_a_source_of_the_story_event():
    # "The video app is gone from Norwegian work phones" names no app: no detection at all
    stories = {"a1": "s1", "a2": "s1", "b1": "s2"}
    res = resolve_with([det("a1")], Sourcing(stories=stories), ids=("a2", "b1"))
    (event,) = res.new_events
    assert event.source_count == 2
    assert {s.article_id for s in res.sources} == {"a1", "a2"}  # b1 is another story


def test_a_story_mate_recalling_another_state_of_the_app_is_left_alone():
    recalled = det("a2", action="lifted", background=True, announced_on=DAY - dt.timedelta(400))
    res = resolve_with([det("a1"), recalled], Sourcing(stories={"a1": "s1", "a2": "s1"}))
    (event,) = res.new_events
    assert event.source_count == 1


def test_a_story_split_between_two_events_gives_its_mates_to_neither():
    ban = det("a1")
    lifted = det("a2", action="lifted", announced_on=DAY + dt.timedelta(days=1))
    stories = {"a1": "s1", "a2": "s1", "a3": "s1"}
    res = resolve_with([ban, lifted], Sourcing(stories=stories), ids=("a3",))
    assert sorted(e.source_count for e in res.new_events) == [1, 1]
    assert "a3" not in {s.article_id for s in res.sources}


def test_the_detector_keeps_a_weak_reading_only_for_an_article_without_news():
    from banwatch.enrich.detect.article import find_candidates
    from banwatch.enrich.detect.decide import ArticleCandidates, decide, featurize

    title = "Norway bars TikTok from ministers' work phones"
    text = "The justice ministry said staff must delete the app from official devices."
    items = [
        ArticleCandidates(a, title, find_candidates(title, text, SEEN, article_id=a, language="en"))
        for a in ("sure", "unsure", "noise")
    ]
    batch = featurize(items)
    by_article = {"sure": 0.9, "unsure": 0.3, "noise": 0.05}
    probability = np.array([by_article[items[i].article_id] for i, _j in batch.where])
    plain, _ = decide(items, batch, probability, 0.4)
    assert {d.article_id for d in plain if not d.background} == {"sure"}
    found, counts = decide(items, batch, probability, 0.4, join_confidence=0.2)
    weak = [d for d in found if not d.background and d.confidence < 0.4]
    assert [(d.article_id, d.confidence) for d in weak] == [("unsure", 0.3)]
    assert counts["weak"] == 1
