"""Whose source an article is (issue 8): its main news only, story mates that look back at the
event are not sources, and lifting verbs the rules read ("returns in", "sets aside").

All sentences are invented for these tests."""

from __future__ import annotations

import datetime as dt

import pytest
from banwatch.enrich.detect import detect_text
from banwatch.enrich.novelty import Sourcing, resolve_events

from banwatch.records import Detection
from tests.support.factories import make_detection

SEEN = dt.datetime(2025, 5, 20, 8, 0, tzinfo=dt.UTC)
DAY = dt.date(2025, 5, 19)


def det(article_id: str, **kw) -> Detection:
    """Portugal's TikTok ban on government devices announced on DAY."""
    fields = {
        "jurisdiction": "Portugal",
        "country": "PT",
        "announced_on": DAY,
        "evidence": f"Lisbon told civil servants to delete the app ({article_id}).",
        "confidence": 0.8,
    }
    return make_detection(article_id, **{**fields, **kw})


def azores(article_id: str, **kw) -> Detection:
    """The Azores' own ban, two days after Lisbon's."""
    fields = {
        "jurisdiction": "Azores",
        "subdivision": "PT-20",
        "level": "subnational",
        "announced_on": DAY + dt.timedelta(days=2),
        "evidence": f"The regional government in Ponta Delgada barred the app ({article_id}).",
        "confidence": 0.95,
    }
    return det(article_id, **{**fields, **kw})


def resolve(detections, policy=None, *, ids=()):
    ids = {d.article_id for d in detections} | set(ids)
    return resolve_events(
        detections,
        {},
        seen_at={a: SEEN for a in ids},
        recency_days=14,
        urls={a: f"https://example.org/{a}" for a in ids},
        outlets={a: f"outlet-{a}" for a in ids},
        policy=policy or Sourcing(),
    )


def sources_of(res, subdivision):
    (event,) = [e for e in res.new_events if (e.subdivision or "") == subdivision]
    return event, {s.article_id for s in res.sources if s.event_id == event.event_id}


def test_an_article_is_a_source_of_its_main_news_not_of_the_step_it_recalls():
    # n1, n2 report Lisbon's ban; r1 reports the Azores following it, and its "two days after
    # Lisbon barred the app" also reads as Lisbon's ban, less surely
    recalled = det("r1", confidence=0.55, evidence="It comes two days after Lisbon's own ban.")
    res = resolve([det("n1"), det("n2"), azores("r1"), recalled])
    national, national_sources = sources_of(res, "")
    regional, regional_sources = sources_of(res, "PT-20")
    assert national_sources == {"n1", "n2"} and national.source_count == 2
    assert regional_sources == {"r1"} and regional.source_count == 1


def test_an_event_only_a_secondary_reading_reports_keeps_it_as_its_source():
    # nobody else covered Lisbon's ban: the Azores article is all the coverage it has
    recalled = det("r1", confidence=0.55, evidence="It comes two days after Lisbon's own ban.")
    res = resolve([azores("r1"), recalled])
    assert sorted(e.source_count for e in res.new_events) == [1, 1]
    assert {s.article_id for s in res.sources} == {"r1"}


def test_the_ban_a_lifting_ends_is_not_a_source_of_that_ban():
    # l1 "Court sets aside the ban" also reads as the ban it ends; b1, b2 reported that ban
    lifted = det("l1", action="lifted", announced_on=DAY + dt.timedelta(days=5), confidence=0.9)
    ended = det("l1", announced_on=None, confidence=0.5, evidence="The ban had stood five days.")
    res = resolve([det("b1"), det("b2"), lifted, ended])
    by_action = {e.action: e for e in res.new_events}
    assert by_action["ban"].source_count == 2 and by_action["lifted"].source_count == 1


def test_a_story_mate_looking_back_at_the_ban_is_not_a_source():
    # o1 is an op-ed grouped with n1's story: it recalls Lisbon's ban as background
    looking_back = det("o1", background=True, announced_on=None, evidence="The ban was a mistake.")
    stories = {"n1": "s1", "o1": "s1", "m1": "s1"}
    res = resolve([det("n1"), looking_back], Sourcing(stories=stories), ids=("m1",))
    (event,) = res.new_events
    assert {s.article_id for s in res.sources} == {"n1", "m1"} and event.source_count == 2


def test_a_story_mate_recalling_the_bill_a_proposal_event_continues_is_a_source():
    bill = det("p1", action="proposed", evidence="Deputies tabled a bill to bar the app.")
    recalls = det("p2", action="proposed", background=True, announced_on=None)
    res = resolve([bill, recalls], Sourcing(stories={"p1": "s1", "p2": "s1"}))
    (event,) = res.new_events
    assert event.source_count == 2


PUB = dt.datetime(2025, 5, 20, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "title",
    [
        "Telegram returns in Uzbekistan a week after the block",
        "WhatsApp returns to Gabon after ten-day shutdown",
        "Court sets aside the order blocking Signal in Kenya",
    ],
)
def test_return_and_set_aside_read_as_lifted(title):
    (d,) = [d for d in detect_text(title, "", PUB) if not d.background]
    assert d.action == "lifted"


def test_a_bill_returning_to_a_chamber_is_no_lifting():
    found = detect_text("Bill to ban TikTok returns to the Senate for a final vote", "", PUB)
    assert all(d.action != "lifted" for d in found)


def test_a_story_mate_recalling_the_ban_a_lifting_ends_is_a_source():
    # r2 reports the same reversal without naming it; it recalls the ban being reversed
    lifting = det("r1", action="lifted", evidence="Lisbon let civil servants reinstall the app.")
    recalls_ban = det("r2", background=True, announced_on=None, evidence="The app was barred.")
    res = resolve([lifting, recalls_ban], Sourcing(stories={"r1": "s1", "r2": "s1"}))
    (event,) = res.new_events
    assert event.action == "lifted" and event.source_count == 2


def test_a_story_mate_recalling_an_earlier_lifting_looks_back():
    lifting = det("r1", action="lifted", evidence="Lisbon let civil servants reinstall the app.")
    recalls = det("r2", action="lifted", background=True, announced_on=None)
    res = resolve([lifting, recalls], Sourcing(stories={"r1": "s1", "r2": "s1"}))
    (event,) = res.new_events
    assert event.source_count == 1
