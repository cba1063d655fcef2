"""A reading that is a vaguer or re-dated copy of its story's event joins that event
(`novelty._Batch.follow_stories`).

The stories step has put the articles of one development together; the detector reads each
alone. When one article's reading misses the province its story mates name, or dates the news a
day later, it used to start a second event with that one source: a false alarm and a source
missing from the real event. A reading of another state or scope of the same app and place is
outvoted by the story (more articles, or as many and a surer reading). Readings that say
something else (another country or app, a more precise place) keep their own event.
"""

from __future__ import annotations

import datetime as dt

from banwatch.enrich.novelty import Sourcing, resolve_events

from banwatch.records import Detection
from tests.support.factories import make_detection

SEEN = dt.datetime(2025, 10, 7, 9, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 10, 6)


def quebec(article_id: str, **kw) -> Detection:
    """Quebec's ban of the chat app on provincial staff phones, announced on DAY."""
    fields = {
        "jurisdiction": "Quebec",
        "country": "CA",
        "subdivision": "CA-QC",
        "level": "subnational",
        "app": "WeChat",
        "announced_on": DAY,
        "evidence": f"Provincial employees must remove the chat app by Friday ({article_id}).",
        "confidence": 0.9,
    }
    return make_detection(article_id, **{**fields, **kw})


def national(article_id: str, **kw) -> Detection:
    """The same report read without its province: Canada's ban, as far as the detector knows."""
    fields = {"jurisdiction": "Canada", "subdivision": None, "level": "national"}
    return quebec(article_id, **{**fields, **kw})


def resolve(detections: list[Detection], stories: dict[str, str]):
    ids = {d.article_id for d in detections} | set(stories)
    return resolve_events(
        detections,
        {},
        seen_at={a: SEEN for a in ids},
        recency_days=14,
        urls={a: f"https://example.org/{a}" for a in ids},
        outlets={a: f"outlet-{a}" for a in ids},
        policy=Sourcing(stories=stories),
    )


def events(res, app: str = "WeChat") -> dict[tuple, set[str]]:
    """(country, subdivision, action, date) -> the source articles of `app`'s events."""
    out = {}
    for e in (e for e in res.new_events if e.app == app):
        key = (e.country, e.subdivision or "", e.action, e.announced_on)
        out[key] = {s.article_id for s in res.sources if s.event_id == e.event_id}
    return out


def test_a_reading_without_the_province_joins_the_story_s_provincial_event():
    res = resolve([quebec("a"), quebec("b"), national("c")], {"a": "s1", "b": "s1", "c": "s1"})
    assert events(res) == {("CA", "CA-QC", "ban", DAY): {"a", "b", "c"}}
    (event,) = res.new_events
    assert event.source_count == 3


def test_on_a_tie_the_reading_that_names_the_province_wins():
    res = resolve([quebec("a"), national("c")], {"a": "s1", "c": "s1"})
    assert events(res) == {("CA", "CA-QC", "ban", DAY): {"a", "c"}}


def lifted(article_id: str, **kw) -> Detection:
    return quebec(article_id, action="lifted", **kw)


LATER = DAY + dt.timedelta(days=1)
# Another story's (mis)reading of a ban on the later day: a late lifting reading no longer
# continues the first lifting by date alone, so it used to start an event of its own.
BAN_READ_LATER = quebec("x", announced_on=LATER)


def test_a_day_late_reading_joins_the_event_most_of_its_story_reports():
    res = resolve(
        [lifted("a"), lifted("b"), lifted("c", announced_on=LATER), BAN_READ_LATER],
        {"a": "s1", "b": "s1", "c": "s1", "x": "s2"},
    )
    found = events(res)
    assert found[("CA", "CA-QC", "lifted", DAY)] == {"a", "b", "c"}
    assert ("CA", "CA-QC", "lifted", LATER) not in found
    assert found[("CA", "CA-QC", "ban", LATER)] == {"x"}


def test_without_a_story_the_readings_keep_their_own_events():
    res = resolve([quebec("a"), national("c")], {"a": "s1", "c": "s2"})
    assert events(res) == {
        ("CA", "CA-QC", "ban", DAY): {"a"},
        ("CA", "", "ban", DAY): {"c"},
    }


def test_a_more_precise_reading_never_moves_to_a_vaguer_event():
    res = resolve([national("a"), national("b"), quebec("c")], {"a": "s1", "b": "s1", "c": "s1"})
    assert events(res) == {
        ("CA", "", "ban", DAY): {"a", "b"},
        ("CA", "CA-QC", "ban", DAY): {"c"},
    }


def test_readings_of_another_country_or_a_more_precise_place_keep_their_own_events():
    stories = {a: "s1" for a in "abcde"}
    res = resolve(
        [
            national("a"),
            national("b"),
            quebec("c", action="proposed"),
            national("d", country="US", jurisdiction="United States"),
            national("e", app="Telegram"),
        ],
        stories,
    )
    assert events(res, app="Telegram") == {("CA", "", "ban", DAY): {"e"}}  # another development
    found = events(res)
    assert found[("CA", "", "ban", DAY)] == {"a", "b"}
    assert found[("CA", "CA-QC", "proposed", DAY)] == {"c"}  # names a place the ban lacks
    assert found[("US", "", "ban", DAY)] == {"d"}
    assert len(res.new_events) == 4


def test_a_reading_of_another_state_or_scope_is_outvoted_by_its_story():
    """Two outlets report the provincial ban; a third, read alone, looked like a bill (its text
    quoted the minister's earlier plan) and a fourth like a nationwide ban. Neither is news of
    its own: they join the ban, with its date, place and at most its confidence."""
    stories = {a: "s1" for a in "abcd"}
    res = resolve(
        [
            quebec("a"),
            quebec("b", confidence=0.7),
            national("c", action="proposed", announced_on=DAY - dt.timedelta(days=20)),
            national("d", scope="nationwide", confidence=0.99),
        ],
        stories,
    )
    assert events(res) == {("CA", "CA-QC", "ban", DAY): {"a", "b", "c", "d"}}
    (event,) = res.new_events
    assert event.source_count == 4
    assert event.announced_on == DAY
    assert event.confidence == 0.9  # the fourth reading's 0.99 was of something else
    moved = {s.article_id: s for s in res.sources}
    assert moved["d"].confidence == 0.9
    assert moved["c"].announced_on == DAY
    assert {moved[a].jurisdiction for a in "cd"} == {"Quebec"}


def test_on_a_tie_between_two_states_the_surer_reading_wins():
    res = resolve(
        [quebec("a", confidence=0.85), lifted("b", confidence=0.55)],
        {"a": "s1", "b": "s1"},
    )
    assert events(res) == {("CA", "CA-QC", "ban", DAY): {"a", "b"}}
    same_confidence = resolve(
        [quebec("a", confidence=0.7), lifted("b", confidence=0.7)], {"a": "s1", "b": "s1"}
    )
    assert len(same_confidence.new_events) == 2  # nothing to go by: both are kept


def test_a_reading_dated_long_before_its_story_joins_the_story_s_event():
    """The text recalled an old date and the detector took it for the news': the reading lands
    far from its story's event, outside the join window."""
    long_ago = DAY - dt.timedelta(days=400)
    res = resolve(
        [lifted("a"), lifted("b", announced_on=long_ago, confidence=0.6)], {"a": "s1", "b": "s1"}
    )
    assert events(res) == {("CA", "CA-QC", "lifted", DAY): {"a", "b"}}
    assert res.new_events[0].announced_on == DAY


def test_a_tie_between_two_equally_precise_readings_is_left_alone():
    res = resolve(
        [lifted("a"), lifted("c", announced_on=LATER), BAN_READ_LATER],
        {"a": "s1", "c": "s1", "x": "s2"},
    )
    found = events(res)
    assert found[("CA", "CA-QC", "lifted", DAY)] == {"a"}
    assert found[("CA", "CA-QC", "lifted", LATER)] == {"c"}
