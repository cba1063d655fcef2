"""Actors in their common forms: names, demonyms, capitals, sub-national units, EU bodies."""

import datetime as dt

import pytest

from enrich.actors import find_actors
from enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)  # a Friday


def news(title: str, text: str = "") -> list:
    return [d for d in detect_text(title, text, PUB) if not d.background]


@pytest.mark.parametrize(
    ("title", "country", "subdivision", "level"),
    [
        ("Portugal bans Telegram over piracy complaints", "PT", None, "national"),
        ("Dutch ministries told to delete Telegram from work phones", "NL", None, "national"),
        ("The British government removes WeChat from official phones", "GB", None, "national"),
        ("Ankara blocks access to Discord", "TR", None, "national"),
        ("Oregon bans TikTok on state-issued devices", "US", "US-OR", "subnational"),
        ("Manitoba bars WeChat from provincial government phones", "CA", "CA-MB", "subnational"),
        ("New South Wales bans TikTok on government devices", "AU", "AU-NSW", "subnational"),
        ("Scottish Government bans TikTok on official devices", "GB", "GB-SCT", "subnational"),
        ("European Commission suspends Telegram on staff phones", "EU", None, "supranational"),
    ],
)
def test_actor_forms(title, country, subdivision, level):
    (d,) = news(title)
    assert (d.country, d.subdivision, d.level) == (country, subdivision, level)


def test_welsh_government_acts_for_wales():
    (d,) = news("Welsh Government orders Telegram off ministers' work phones")
    assert (d.jurisdiction, d.country, d.subdivision) == ("Wales", "GB", "GB-WLS")


def test_two_eu_institutions_are_two_bodies():
    (c,) = news("European Commission bans Telegram on staff devices")
    (p,) = news("European Parliament bans Telegram on staff devices")
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
    assert {"NL", "AT"} <= names


def test_court_in_a_country_acts_nationally():
    (d,) = news(
        "Court orders Telegram blocked nationwide",
        "A judge in Spain told internet providers to cut off the messaging app on Friday.",
    )
    assert (d.country, d.subdivision, d.level) == ("ES", None, "national")
