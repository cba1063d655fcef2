"""Actors in their common forms: names, demonyms, capitals, sub-national units, EU bodies."""

import datetime as dt

import pytest
from banwatch.enrich.actors import find_actors
from banwatch.enrich.detect import detect_ban_events, detect_text

from banwatch.records import Article

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)  # a Friday


def news(title: str, text: str = "") -> list:
    return [d for d in detect_text(title, text, PUB) if not d.background]


@pytest.mark.parametrize(
    ("title", "country", "subdivision", "level"),
    [
        ("Portugal bans Telegram over piracy complaints", "PT", None, "national"),
        ("Dutch ministries instruct officials to uninstall Telegram", "NL", None, "national"),
        ("The British government removes WeChat from official phones", "GB", None, "national"),
        ("Ankara blocks access to Discord", "TR", None, "national"),
        (
            "Oregon agencies must purge TikTok from state-issued tablets",
            "US",
            "US-OR",
            "subnational",
        ),
        ("Manitoba bars WeChat from provincial government phones", "CA", "CA-MB", "subnational"),
        (
            "New South Wales removes WeChat from government-issued devices",
            "AU",
            "AU-NSW",
            "subnational",
        ),
        (
            "Scottish Government tells civil servants to delete Telegram from work laptops",
            "GB",
            "GB-SCT",
            "subnational",
        ),
        (
            "European Commission tells its staff to remove Telegram from work devices",
            "EU",
            None,
            "supranational",
        ),
    ],
)
def test_actor_forms(title, country, subdivision, level):
    (d,) = news(title)
    assert (d.country, d.subdivision, d.level) == (country, subdivision, level)


def test_welsh_government_acts_for_wales():
    (d,) = news("Welsh Government orders Telegram off ministers' work phones")
    assert (d.jurisdiction, d.country, d.subdivision) == ("Wales", "GB", "GB-WLS")


def test_two_eu_institutions_are_two_bodies():
    (c,) = news("European Commission orders WhatsApp off staff laptops")
    (p,) = news("European Parliament orders WhatsApp off staff laptops")
    assert c.body == "European Commission" and p.body == "European Parliament"
    assert c.situation != p.situation


def test_parliament_own_network_is_its_own_body():
    (d,) = news("Norwegian parliament bans TikTok from its network and devices")
    assert d.country == "NO" and d.body == "Parliament" and d.scope == "government_devices"


def test_owner_demonym_is_not_the_actor():
    # "Chinese-owned" says who owns the app, not who bans it
    (d,) = news("Kenya blocks the Chinese-owned app Temu")
    assert d.country == "KE" and d.app == "Temu"


def test_translated_country_names_from_pycountry():
    names = {a.country for a in find_actors("Die Niederlande und Österreich prüfen den Schritt")}
    assert names == {"NL", "AT"}


def test_court_in_a_country_acts_nationally():
    (d,) = news(
        "Judge orders internet providers to shut out Telegram across the country",
        "A court in Spain issued the ruling on Friday after complaints from broadcasters.",
    )
    assert (d.country, d.subdivision, d.level) == ("ES", None, "national")


@pytest.mark.parametrize(
    ("title", "country"),
    [
        # demonyms and capitals of countries outside the hand lists come from countryinfo
        ("Uzbek authorities block Telegram over fraud channels", "UZ"),
        ("Tajik regulator cuts off access to Signal", "TJ"),
        ("Bishkek cuts access to the messaging app Viber", "KG"),
        ("Moldovan government orders Telegram blocked", "MD"),
    ],
)
def test_demonyms_and_capitals_of_every_country(title, country):
    (d,) = news(title)
    assert d.country == country


def test_washington_alone_is_the_federal_government():
    (federal,) = news("Washington orders WeChat off federal employees' phones")
    assert (federal.country, federal.subdivision) == ("US", None)
    (state,) = news("Washington state bans WeChat on state devices")
    assert (state.country, state.subdivision) == ("US", "US-WA")


def test_a_place_named_with_its_body_acts_even_after_of():
    (d,) = news(
        "Senators table bill to ban Telegram",
        "A group of Kenyan senators on Thursday tabled a bill that would ban the messaging "
        "app Telegram, citing its use by extremist groups in neighbouring countries.",
    )
    assert (d.country, d.action, d.body) == ("KE", "proposed", "")


def test_an_overseas_territory_is_its_sovereign_acting_on_part_of_it():
    (d,) = news("France blocks Telegram in French Polynesia during unrest")
    assert (d.country, d.jurisdiction, d.scope) == ("FR", "France", "other")


def test_a_vague_national_actor_takes_the_region_the_lead_names():
    (d,) = news(
        "German privacy watchdog forbids Telegram from sharing users' contacts",
        "Bavaria's data protection commissioner issued the three-month order on Tuesday, "
        "saying the messenger had no legal basis for sharing contacts with advertisers.",
    )
    assert (d.country, d.subdivision, d.scope) == ("DE", "DE-BY", "other")


def test_a_statewide_step_belongs_to_the_state_the_article_is_about():
    (d,) = news(
        "State governor signs law banning WeChat across the state",
        "The law takes effect in January. Civil liberties groups said they would challenge "
        "it on behalf of Ohio residents who use the messaging app to reach relatives abroad.",
    )
    assert (d.country, d.subdivision, d.action) == ("US", "US-OH", "ban")


def test_a_domestic_story_without_its_country_takes_the_place_it_names():
    (d,) = news(
        "Ministers told to wipe WeChat from official phones",
        "The instruction went out to every department on Monday. IT teams across Whitehall "
        "were checking handsets remotely.",
    )
    assert (d.country, d.scope) == ("GB", "government_devices")


def test_a_state_government_in_india_acts_for_the_state_and_a_high_court_for_india():
    (state,) = news("Kerala government bans PUBG Mobile in schools' districts")
    assert (state.country, state.subdivision, state.level) == ("IN", "IN-KL", "subnational")
    (court,) = news("Kerala High Court orders a ban on PUBG Mobile")
    assert (court.country, court.subdivision) == ("IN", None)


def test_soldiers_told_to_drop_an_app_is_the_armys_own_rule():
    (d,) = news("Austrian soldiers ordered to drop Telegram for an in-house messenger")
    assert (d.country, d.scope, d.body) == ("AT", "government_devices", "Ministry of Defence")


def test_a_domestic_outlet_names_no_country_its_feed_does():
    title, lead = (
        "The government bars Telegram from official phones",
        "Officials must delete the app from work devices by Friday, the cabinet said.",
    )
    assert [d for d in detect_text(title, lead, PUB) if not d.background] == []
    (d,) = [d for d in detect_text(title, lead, PUB, home_country="IE") if not d.background]
    assert (d.country, d.scope) == ("IE", "government_devices")
    # in a batch, through the feed's configured country
    article = Article("a1", "https://example.ie/1", "dublin-daily", title, lead, PUB)
    found, _ = detect_ban_events([article], feed_countries={"dublin-daily": "IE"})
    assert [(d.country, d.background) for d in found] == [("IE", False)]
