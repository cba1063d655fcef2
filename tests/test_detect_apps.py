"""Apps: catalogue names and aliases, apps outside the catalogue, generic mentions, extra files."""

import datetime as dt

from enrich.apps import AppCatalogue
from enrich.detect import detect_text

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
    found = news("Nepal bans TikTok, Telegram and two other apps")
    assert [d.app for d in found] == ["TikTok"]


def test_extra_catalogue_file_is_merged(tmp_path):
    extra = tmp_path / "apps.toml"
    extra.write_text('[[app]]\nname = "Zangi"\naliases = ["Zangi Messenger"]\n', encoding="utf-8")
    cat = AppCatalogue.load(extra)
    (d,) = news("Tajikistan blocks Zangi Messenger", catalogue=cat)
    assert d.app == "Zangi"
    assert cat.canonical("Twitter") == "X"  # the built-in entries stay
