"""German, French, Spanish, Italian and Portuguese articles are detected too."""

import datetime as dt

import pytest
from banwatch.enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "Österreich verbietet TikTok auf Diensthandys der Regierung",
            ("AT", None, "TikTok", "government_devices", "ban"),
        ),
        (
            "Bayerische Regierung sperrt Telegram auf Dienstgeräten",
            ("DE", "DE-BY", "Telegram", "government_devices", "ban"),
        ),
        (
            "La Belgique interdit Telegram sur les ordinateurs portables de l'administration",
            ("BE", None, "Telegram", "government_devices", "ban"),
        ),
        (
            "Le Sénégal lève l'interdiction de TikTok",
            ("SN", None, "TikTok", "nationwide", "lifted"),
        ),
        (
            "Argentina prohíbe Telegram en todo el país",
            ("AR", None, "Telegram", "nationwide", "ban"),
        ),
        (
            "L'Italia blocca Telegram in tutto il paese",
            ("IT", None, "Telegram", "nationwide", "ban"),
        ),
        (
            "Il Garante privacy impone a Replika di sospendere l'uso dei dati personali",
            ("IT", None, "Replika", "other", "ban"),
        ),
        (
            "Portugal proíbe o TikTok nos dispositivos oficiais do governo",
            ("PT", None, "TikTok", "government_devices", "ban"),
        ),
        pytest.param(
            "Juiz no Brasil determina bloqueio nacional do Telegram",
            ("BR", None, "Telegram", "nationwide", "ban"),
            marks=pytest.mark.xfail(
                strict=True,
                reason="a Portuguese court order is found only as 'Justiça ... manda bloquear'",
            ),
        ),
    ],
)
def test_languages(title, expected):
    """`expected` is (country, subdivision, app, scope, action) of the one news event."""
    found = [d for d in detect_text(title, "", PUB) if not d.background]
    assert [(d.country, d.subdivision, d.app, d.scope, d.action) for d in found] == [expected]
