"""Scope: government devices, nationwide, or another restriction."""

import datetime as dt

import pytest
from banwatch.enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)


def news(title: str, text: str = "") -> list:
    return [d for d in detect_text(title, text, PUB) if not d.background]


@pytest.mark.parametrize(
    ("title", "scope"),
    [
        ("Estonia orders TikTok off civil servants' work phones", "government_devices"),
        ("Latvia orders civil servants to remove Telegram from work devices", "government_devices"),
        ("Finland's armed forces ban WeChat on issued smartphones", "government_devices"),
        ("Senegal blocks TikTok nationwide", "nationwide"),
        ("Bangladesh has Telegram pulled from app stores", "nationwide"),
        ("Vietnam blocks Telegram", "nationwide"),
        ("Spain's data protection agency orders Replika to stop processing users' data", "other"),
        ("Malaysia bars children under 16 from TikTok", "other"),
        ("Brazil throttles X after court dispute", "other"),
    ],
)
def test_scope(title, scope):
    (d,) = news(title)
    assert d.scope == scope


def test_scope_stated_in_the_lead_applies_to_the_headline_event():
    found = news(
        "Slovakia bans Telegram",
        "The cabinet said on Friday the messaging app must be removed from all official "
        "phones and laptops within a week.",
    )
    assert [(d.country, d.scope) for d in found] == [("SK", "government_devices")]


@pytest.mark.parametrize(
    ("title", "lead", "scope"),
    [
        # a data-protection authority's order is "other", even when the app leaves the stores
        (
            "Data protection authority orders Replika off app stores in Spain",
            "",
            "other",
        ),
        ("Belarus cuts voice calling on Viber", "", "other"),
        pytest.param(
            "Regulator in Chile halts fresh installs of DeepSeek",
            "",
            "other",
            marks=pytest.mark.xfail(
                strict=True,
                reason="a halt to new installs is read as a nationwide block; "
                "only 'suspends new downloads' is known to be a partial restriction",
            ),
        ),
        ("Myanmar instructs internet providers to shut out Facebook", "", "nationwide"),
        (
            "Peru's economy ministry bars its employees from DeepSeek on office computers",
            "",
            None,
        ),
    ],
)
def test_more_scopes(title, lead, scope):
    (d,) = news(title, lead)
    if scope is None:
        assert d.scope == "government_devices" and d.action == "ban"
    else:
        assert d.scope == scope


def test_a_lead_recalling_an_older_scope_does_not_set_todays():
    (d,) = news(
        "Chile outlaws the sale of Kaspersky software",
        "Retailers have until September to clear their stock, the economy ministry said on "
        "Tuesday. Government offices were told in 2019 to uninstall Kaspersky tools.",
    )
    assert (d.scope, d.action) == ("nationwide", "ban")


def test_an_eu_data_watchdog_restricting_a_service_is_other():
    (d,) = news("EU privacy regulator tells Commission to halt Zoom data transfers")
    assert (d.country, d.app, d.scope) == ("EU", "Zoom", "other")
