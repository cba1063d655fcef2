"""Not events: companies, platforms, calls and opinions, non-app bans, app news."""

import datetime as dt

import pytest
from banwatch.enrich.detect import detect_ban_events, detect_text

from banwatch.records import Article

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("title", "lead"),
    [
        # a company restricting an app for its own people
        ("Insurance group bans Telegram on employees' work handsets", ""),
        (
            "Polytechnic blocks WeChat on its student Wi-Fi",
            "Mobile connections are unaffected, the college said.",
        ),
        # an app acting on users or content
        ("Telegram bans channels of extremist group", ""),
        ("YouTube blocks videos from state broadcaster", ""),
        ("Discord suspends accounts linked to scam ring", ""),
        # calls, opinions, questions
        ("Senators urge the Commerce Department to ban WeChat", ""),
        ("Opinion: It is time for Canada to block Telegram", ""),
        ("Should Brazil ban TikTok?", ""),
        ("Think tank calls on ministers to bar WeChat from official phones", ""),
        # a government banning something that is not an app
        ("Kenya bans plastic bags in national parks", ""),
        ("Chile bans smartphones in classrooms for under-12s", ""),
        ("Japan bans exports of chipmaking equipment", ""),
        # app news with no ban
        (
            "Telegram says its user base has topped one billion",
            "The messaging app said growth came from Asia.",
        ),
        ("Regulator fines TikTok over cookies", "The fine is not a ban, the authority said."),
    ],
)
def test_not_an_event(title, lead):
    assert [d for d in detect_text(title, lead, PUB) if not d.background] == []


def test_batch_counts_and_min_confidence():
    articles = [
        Article(
            "a1",
            "https://example.org/1",
            "f",
            "Estonia orders TikTok off civil servants' work phones",
            "",
            PUB,
        ),
        Article("a2", "https://example.org/2", "f", "Kenya bans plastic bags", "", PUB),
    ]
    found, counts = detect_ban_events(articles, min_confidence=0.5)
    assert [(d.article_id, d.background) for d in found] == [("a1", False)]
    assert counts["articles"] == 2 and counts["with_candidates"] == 1 and counts["news"] == 1
    found, counts = detect_ban_events(articles, min_confidence=1.0)  # nothing is that sure
    assert found == [] and counts["rejected"] == 1


@pytest.mark.parametrize(
    ("title", "lead"),
    [
        ("Peru charges Telegram's founder and bars him from leaving the country", ""),
        ("Canada bars ZTE from 5G networks", "The vendor's equipment must be removed by 2027."),
        (
            "Frankfurt bank bans traders from using WhatsApp with clients",
            "The lender said regulators had fined rivals over unrecorded chats.",
        ),
    ],
)
def test_more_look_alikes_are_not_events(title, lead):
    assert [d for d in detect_text(title, lead, PUB) if not d.background] == []
