"""Background: older events an article recalls are kept as mentions, never as news."""

import datetime as dt

import pytest

from enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)


def test_recalled_events_are_background():
    found = detect_text(
        "Estonia bans TikTok on government phones",
        "Estonia's government said on Thursday that officials must delete the app from work "
        "phones. Latvia barred the app from official devices in March. Lithuania and Poland "
        "have taken similar action.",
        PUB,
    )
    news = [(d.country, d.action) for d in found if not d.background]
    assert news == [("EE", "ban")]
    background = {d.country for d in found if d.background}
    assert {"LV", "LT", "PL"} <= background
    latvia = next(d for d in found if d.country == "LV")
    assert latvia.announced_on == dt.date(2024, 3, 15)


def test_earlier_state_of_the_same_situation_is_background():
    found = detect_text(
        "Ghana lifts Telegram block",
        "Ghana's regulator restored access to Telegram on Thursday. The block, imposed in "
        "April over extremist channels, had cut off millions of users.",
        PUB,
    )
    assert [(d.action, d.background) for d in found if not d.background] == [("lifted", False)]


def test_explainer_articles_are_not_news():
    found = detect_text(
        "Where Telegram is blocked: a country-by-country guide",
        "Iran blocked Telegram in 2018 and Russia tried to in the same year. This explainer "
        "looks at who acted and why.",
        PUB,
    )
    assert found and all(d.background for d in found)


def test_same_country_body_acting_on_its_own_is_news():
    found = detect_text(
        "Canada bans WeChat on federal government devices",
        "The federal government said on Thursday staff must remove the app. "
        "The House of Commons said separately that its administration has also blocked "
        "WeChat on the Parliament network.",
        PUB,
    )
    news = {(d.country, d.body) for d in found if not d.background}
    assert ("CA", "") in news


def test_a_lead_dating_the_old_ban_keeps_todays_lifting_news():
    found = detect_text(
        "Peru lifts ban on Telegram",
        "Peru's government lifted its ban on Telegram nine months after it was blocked.",
        PUB,
    )
    assert [(d.action, d.background) for d in found if not d.background] == [("lifted", False)]


@pytest.mark.parametrize(
    "title",
    [
        "Five years since Peru's Telegram block",
        "Opinion: Peru's Telegram ban was a mistake",
        "Commento: il blocco di Telegram in Perù non basta",
    ],
)
def test_look_backs_and_opinions_are_not_news(title):
    assert [d for d in detect_text(title, "", PUB) if not d.background] == []


@pytest.mark.parametrize(
    "title",
    [
        "Un año del bloqueo de Telegram en Perú",
        "Dez anos do primeiro bloqueio do Telegram no Peru",
        "How governments raced to restrict Telegram",
    ],
)
def test_look_backs_in_other_languages_and_explainers(title):
    assert [d for d in detect_text(title, "", PUB) if not d.background] == []
