"""Background: older events an article recalls are kept as mentions, never as news."""

import datetime as dt

import pytest
from banwatch.enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)


ESTONIA = (
    "Estonia orders TikTok off civil servants' work phones",
    "The digital ministry in Tallinn gave staff until Monday to uninstall it, the government "
    "said on Thursday. Neighbouring Latvia barred TikTok from ministry phones in March. "
    "Lithuania and Poland have imposed similar restrictions.",
)


def test_recalled_events_are_background():
    found = detect_text(*ESTONIA, PUB)
    news = [(d.country, d.action) for d in found if not d.background]
    assert news == [("EE", "ban")]
    (latvia,) = [d for d in found if d.country == "LV"]
    assert latvia.background and latvia.announced_on == dt.date(2024, 3, 15)


@pytest.mark.xfail(
    strict=True,
    reason="countries said to have done the same are found only after 'taken similar action'",
)
def test_countries_said_to_have_done_the_same_are_background():
    found = detect_text(*ESTONIA, PUB)
    assert {d.country for d in found if d.background} >= {"LT", "PL"}


def test_earlier_state_of_the_same_situation_is_background():
    found = detect_text(
        "Ghana lifts Telegram block",
        "Ghana's regulator restored access to Telegram on Thursday. The block, imposed in "
        "April over extremist channels, had cut off millions of users.",
        PUB,
    )
    # April's block may be kept as a mention, but only today's lifting is news
    assert [d.action for d in found if not d.background] == ["lifted"]


def test_explainer_articles_are_not_news():
    found = detect_text(
        "Telegram bans around the world, explained",
        "Iran cut off Telegram in 2018, while Russia's attempt the same year failed. We set out "
        "which governments acted and their reasons.",
        PUB,
    )
    assert found and all(d.background for d in found)


@pytest.mark.xfail(
    strict=True,
    reason="the House of Commons is mapped to the United Kingdom and kept as background",
)
def test_same_country_body_acting_on_its_own_is_news():
    found = detect_text(
        "Ottawa orders WeChat off federal employees' phones",
        "Federal staff must uninstall the app, the Treasury Board said on Thursday. In a "
        "separate notice, the House of Commons said it had blocked WeChat on the "
        "parliamentary network too.",
        PUB,
    )
    assert {d.country for d in found} == {"CA"}
    bodies = sorted(d.body for d in found if not d.background)
    # the government's own ban and the chamber's, each news (the chamber's name may vary)
    assert len(bodies) == 2 and bodies[0] == ""
    assert bodies[1] in {"House of Commons", "Parliament"}


def test_a_lead_dating_the_old_ban_keeps_todays_lifting_news():
    found = detect_text(
        "Peru lifts Telegram ban",
        "Officials in Lima ended the ban on Telegram, nine months after the app was first blocked.",
        PUB,
    )
    news = [(d.action, d.announced_on) for d in found if not d.background]
    assert news == [("lifted", PUB.date())]


LOOK_BACK = pytest.mark.xfail(
    strict=True, reason="look-backs are recognised only in the wording of known headlines"
)


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("It has been five years since Peru first blocked Telegram", marks=LOOK_BACK),
        "Opinion: Peru's Telegram ban was a mistake",
        "Commento: il blocco di Telegram in Perù non basta",
    ],
)
def test_look_backs_and_opinions_are_not_news(title):
    assert [d for d in detect_text(title, "", PUB) if not d.background] == []


@pytest.mark.parametrize(
    "title",
    [
        pytest.param("Perú, un año después del bloqueo de Telegram", marks=LOOK_BACK),
        pytest.param("O bloqueio do Telegram no Peru completa dez anos", marks=LOOK_BACK),
        "Why so many governments turned against Telegram",
    ],
)
def test_look_backs_in_other_languages_and_explainers(title):
    assert [d for d in detect_text(title, "", PUB) if not d.background] == []
