"""Action: ban, proposed or lifted, and the announcement date relative to publication."""

import datetime as dt

import pytest

from enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)  # a Friday


def news(title: str, text: str = "") -> list:
    return [d for d in detect_text(title, text, PUB) if not d.background]


@pytest.mark.parametrize(
    ("title", "action"),
    [
        ("Kyrgyzstan bans TikTok", "ban"),
        ("Ghana to block Telegram over extremist channels", "ban"),
        ("Philippines considers banning TikTok on government devices", "proposed"),
        ("Lawmakers in Ohio pass bill to ban WeChat statewide", "proposed"),
        ("Brazil could block Telegram, minister says", "proposed"),
        ("Sri Lanka threatens to block WhatsApp", "proposed"),
        ("Ethiopia lifts its block on Telegram", "lifted"),
        ("Court strikes down Kansas ban on TikTok", "lifted"),
        ("Nepal restores access to TikTok", "lifted"),
        ("WhatsApp is back in Zimbabwe after a two-week block", "lifted"),
    ],
)
def test_action(title, action):
    (d,) = news(title)
    assert d.action == action


def test_lifting_only_sought_is_not_lifted():
    found = news("Telegram seeks to restore service in Cameroon after block")
    assert all(d.action != "lifted" for d in found)


@pytest.mark.parametrize(
    ("lead", "expected"),
    [
        ("The regulator blocked Telegram in Peru on Wednesday.", dt.date(2024, 6, 12)),
        ("Peru's regulator blocked Telegram yesterday.", dt.date(2024, 6, 13)),
        ("Peru's regulator blocked Telegram on 11 June.", dt.date(2024, 6, 11)),
        ("Peru's regulator blocked Telegram on June 10.", dt.date(2024, 6, 10)),
        ("Peru's regulator blocked Telegram, it said.", dt.date(2024, 6, 14)),
    ],
)
def test_announced_on_is_resolved_against_publication(lead, expected):
    (d,) = news("Peru blocks Telegram", lead)
    assert d.announced_on == expected


def test_effect_dates_are_not_announcement_dates():
    (d,) = news("Georgia's neighbour Armenia bans Telegram from July 1")
    assert d.announced_on == dt.date(2024, 6, 14)
