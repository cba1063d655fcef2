"""Apps: catalogue names and aliases, apps outside the catalogue, generic mentions, extra files."""

import datetime as dt

import pytest
from banwatch.enrich.apps import AppCatalogue
from banwatch.enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)


def news(title: str, text: str = "", **kw) -> list:
    return [d for d in detect_text(title, text, PUB, **kw) if not d.background]


def test_aliases_map_to_canonical_names():
    cat = AppCatalogue.load()
    assert cat.canonical("Twitter") == "X"
    assert cat.canonical("Weixin") == "WeChat"
    assert cat.canonical("kaspersky lab") == "Kaspersky"


def test_twitter_is_filed_as_x():
    (d,) = news("Venezuela blocks Twitter as protests grow")
    assert d.app == "X"


def test_x_as_a_letter_is_not_the_app():
    assert AppCatalogue.load().find("Plan X for the budget") == []


def test_vendor_is_an_app():
    (d,) = news("Lithuania removes Kaspersky software from state computers")
    assert (d.app, d.scope) == ("Kaspersky", "government_devices")


def test_app_outside_catalogue_named_by_kind():
    (d,) = news("Vietnam blocks the Chinese shopping app Pinduo over unfair pricing")
    assert d.app == "Pinduo"


def test_app_outside_catalogue_named_with_apposition():
    (d,) = news("Egypt blocks Yallo, a popular voice-chat app, citing public morals")
    assert d.app == "Yallo"


def test_generic_mention_resolves_to_the_article_app():
    (d,) = news(
        "Kazakhstan cuts off popular messaging app",
        "Users in Kazakhstan could not reach Telegram on Monday after the regulator acted.",
    )
    assert (d.country, d.app) == ("KZ", "Telegram")


def test_multi_app_action_is_filed_under_the_first_app():
    found = news("Nepal outlaws TikTok along with Telegram and a pair of gaming apps")
    assert [d.app for d in found] == ["TikTok"]


def test_extra_catalogue_file_is_merged(tmp_path):
    extra = tmp_path / "apps.toml"
    extra.write_text('[[app]]\nname = "Zangi"\naliases = ["Zangi Messenger"]\n', encoding="utf-8")
    cat = AppCatalogue.load(extra)
    (d,) = news("Tajikistan blocks Zangi Messenger", catalogue=cat)
    assert d.app == "Zangi"
    assert cat.canonical("Twitter") == "X"  # the built-in entries stay


def test_an_app_outside_the_catalogue_named_as_the_object():
    (d,) = news(
        "Ghana blocks Zangi over scam calls",
        "The communications regulator said the messaging app had ignored requests to verify "
        "its users.",
    )
    assert (d.country, d.app, d.action) == ("GH", "Zangi", "ban")
    assert d.confidence < 0.99  # outside the catalogue: less sure than a known app


def test_owners_and_hardware_are_not_apps_outside_the_catalogue():
    assert (
        news(
            "Peru bans Acme chips from state contracts",
            "The ministry said the company's hardware posed a risk to the network.",
        )
        == []
    )


def test_a_multi_app_step_is_filed_under_the_app_the_article_is_about():
    (d,) = news(
        "Brazil's tax office bars staff from Kimi and DeepSeek on work laptops",
        "The tax office's note singles out DeepSeek, whose data practices regulators in "
        "several countries are reviewing. DeepSeek did not comment.",
    )
    assert (d.app, d.scope) == ("DeepSeek", "government_devices")


def test_a_category_resolves_to_the_platform_the_article_names():
    (d,) = news(
        "Gabon shuts down social media platforms indefinitely",
        "Users said TikTok, Facebook and WhatsApp stopped loading across the country after "
        "the communications ministry ordered operators to cut access on Sunday.",
    )
    assert (d.country, d.app, d.scope) == ("GA", "TikTok", "nationwide")


def test_a_bill_named_in_capitals_is_not_an_action():
    assert news("Senate leaders endorse the RESTRICT Act ahead of a vote") == []


@pytest.mark.parametrize(
    ("title", "country", "app", "scope"),
    [
        ("Regulator in Peru blocks ZapChat over fraud", "PE", "ZapChat", "nationwide"),
        pytest.param(
            "Iceland bars its ministers from keeping Zangi on official phones",
            "IS",
            "Zangi",
            "government_devices",
            marks=pytest.mark.xfail(
                strict=True,
                reason="only 'bars ministers from having X' is recognised as a device ban",
            ),
        ),
        ("Peru blocks the web version of Zangi", "PE", "Zangi", "nationwide"),
    ],
)
def test_an_unknown_product_name_or_a_device_ban_is_enough_to_call_it_an_app(
    title, country, app, scope
):
    (d,) = news(title)
    assert (d.country, d.app, d.scope) == (country, app, scope)
