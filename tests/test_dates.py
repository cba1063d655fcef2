"""Time phrases resolve against the article's publication date, in the six languages read.

`find_times` is what dates a detected step (`announced_on`): a wrong date turns news into
history (or back), so each case asserts the day, its precision and the words it came from. The
last tests go through `detect_text`, where an analyst sees the result.
"""

from __future__ import annotations

import datetime as dt

import pytest
from banwatch.enrich.dates import find_times
from banwatch.enrich.detect import detect_text

THURSDAY = dt.date(2024, 3, 14)
FRIDAY = dt.date(2024, 3, 15)
JAN_2, DEC_30 = dt.date(2025, 1, 2), dt.date(2024, 12, 30)


def resolved(sentence: str, published: dt.date) -> list[tuple[dt.date, str, str]]:
    """(date, precision, matched words) of every phrase found, in text order."""
    return [(t.date, t.precision, t.text) for t in find_times(sentence, published)]


@pytest.mark.parametrize(
    ("sentence", "published", "expected"),
    [
        # the publication day's own name is that day, not the same weekday a week earlier
        ("The regulator blocked the messaging app on Thursday.", THURSDAY, (THURSDAY, "Thursday")),
        ("Am Donnerstag sperrte die Behörde den Dienst.", THURSDAY, (THURSDAY, "Donnerstag")),
        ("El jueves el regulador bloqueó la aplicación.", THURSDAY, (THURSDAY, "jueves")),
        ("The regulator blocked the messaging app on Thursday.", FRIDAY, (THURSDAY, "Thursday")),
        # any other weekday is the latest one before publication, never one after it
        ("The regulator acted on Friday.", THURSDAY, (dt.date(2024, 3, 8), "Friday")),
        ("Le ministre a tranché lundi.", dt.date(2024, 3, 13), (dt.date(2024, 3, 11), "lundi")),
    ],
)
def test_weekdays(sentence: str, published: dt.date, expected: tuple[dt.date, str]) -> None:
    assert resolved(sentence, published) == [(expected[0], "day", expected[1])]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        # a story filed late may carry the next days' date: up to two days after publication
        ("Officials confirmed the order on 16 March.", dt.date(2024, 3, 16)),
        ("Officials confirmed the order on March 16.", dt.date(2024, 3, 16)),
        ("Officials confirmed the order on 17 March.", dt.date(2024, 3, 17)),
        # further ahead, the day without a year is last year's
        ("Officials confirmed the order on 18 March.", dt.date(2023, 3, 18)),
        ("Officials confirmed the order on 12 March.", dt.date(2024, 3, 12)),
    ],
)
def test_a_day_without_a_year_near_publication(sentence: str, expected: dt.date) -> None:
    ((date, precision, _),) = resolved(sentence, FRIDAY)
    assert (date, precision) == (expected, "day")


@pytest.mark.parametrize(
    ("sentence", "published", "expected"),
    [
        ("The court ordered the block on 30 December.", JAN_2, DEC_30),
        ("The court ordered the block on December 30.", JAN_2, DEC_30),
        ("Das Gericht ordnete die Sperre am 30. Dezember an.", JAN_2, DEC_30),
        ("The regulator acted on Monday.", JAN_2, DEC_30),
        ("Gestern sperrte die Behörde die App.", dt.date(2025, 1, 1), dt.date(2024, 12, 31)),
        # filed on New Year's Eve about the next day: next year, not last January
        ("The ban is announced on 1 January.", dt.date(2024, 12, 31), dt.date(2025, 1, 1)),
    ],
)
def test_dates_across_new_year(sentence: str, published: dt.date, expected: dt.date) -> None:
    ((date, precision, _),) = resolved(sentence, published)
    assert (date, precision) == (expected, "day")


def test_a_month_across_new_year_is_dated_at_its_middle_or_at_publication() -> None:
    assert resolved("The block was ordered in December.", JAN_2) == [
        (dt.date(2024, 12, 15), "month", "in December")
    ]
    assert resolved("The block was ordered in January.", JAN_2) == [(JAN_2, "month", "in January")]


@pytest.mark.parametrize(
    ("sentence", "published", "expected"),
    [
        ("Le ministère a annoncé le 12 fevrier la suspension du réseau.", FRIDAY,
         (dt.date(2024, 2, 12), "day", "12 fevrier")),
        ("Die Behörde sperrte den Dienst am 3. Maerz.", FRIDAY,
         (dt.date(2024, 3, 3), "day", "3. Maerz")),
        ("Le 3 fevrier 2023, le service a été suspendu.", FRIDAY,
         (dt.date(2023, 2, 3), "day", "3 fevrier 2023")),
        ("Le service a été suspendu en fevrier.", dt.date(2024, 5, 14),
         (dt.date(2024, 2, 15), "month", "en fevrier")),
        ("Der Dienst wurde im Maerz gesperrt.", dt.date(2024, 5, 14),
         (dt.date(2024, 3, 15), "month", "im Maerz")),
    ],
)  # fmt: skip
def test_month_names_written_without_accents(
    sentence: str, published: dt.date, expected: tuple[dt.date, str, str]
) -> None:
    assert resolved(sentence, published) == [expected]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Die Behörde sperrte den Dienst gestern.", (dt.date(2024, 3, 14), "day", "gestern")),
        ("Die App wurde vorgestern gesperrt.", (dt.date(2024, 3, 13), "day", "vorgestern")),
        ("Le gouvernement a bloqué l'application hier.", (dt.date(2024, 3, 14), "day", "hier")),
        # the whole word, not the "hier" inside it
        ("Le ministre l'a confirmé avant-hier.", (dt.date(2024, 3, 13), "day", "avant-hier")),
        ("Le gouvernement a bloqué l'application le mois dernier.",
         (dt.date(2024, 2, 15), "month", "le mois dernier")),
        ("El regulador suspendió la plataforma anteayer.",
         (dt.date(2024, 3, 13), "day", "anteayer")),
        ("Il garante ha bloccato il servizio la settimana scorsa.",
         (dt.date(2024, 3, 8), "week", "la settimana scorsa")),
        ("O regulador bloqueou o aplicativo ontem.", (dt.date(2024, 3, 14), "day", "ontem")),
        ("Das Ministerium sperrte die App letzte Woche.",
         (dt.date(2024, 3, 8), "week", "letzte Woche")),
        ("The app was banned two years ago.", (dt.date(2022, 3, 15), "year", "two years ago")),
    ],
)  # fmt: skip
def test_relative_phrases(sentence: str, expected: tuple[dt.date, str, str]) -> None:
    assert resolved(sentence, FRIDAY) == [expected]


@pytest.mark.parametrize(
    "sentence",
    [
        "The ban stays in force until 30 June.",
        "Providers must comply by April 2.",
        "The block applies from 1 April.",
        "The block lasts until Friday.",
        "Le service est suspendu jusqu'au 30 juin.",
        "Die Sperre gilt ab dem 1. April.",
        "Il blocco resta in vigore fino al 30 giugno.",
        "La prohibición rige a partir del 1 de abril.",
    ],
)
def test_when_a_measure_starts_or_ends_is_not_an_announcement_date(sentence: str) -> None:
    assert resolved(sentence, FRIDAY) == []


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Officials blocked it yesterday; the block lasts until 1 May.", "yesterday"),
        ("Die Behörde sperrte den Dienst gestern; die Sperre gilt bis 30. April.", "gestern"),
        ("Il servizio è stato bloccato ieri e resterà sospeso fino al 30 giugno.", "ieri"),
    ],
)
def test_the_announcement_is_kept_beside_an_effect_date(sentence: str, expected: str) -> None:
    assert resolved(sentence, FRIDAY) == [(THURSDAY, "day", expected)]


@pytest.mark.parametrize(
    "sentence",
    [
        "La prohibición rige hasta el 30 de junio.",
        "La medida rige desde el 1 de abril.",
        "Die Sperre gilt bis zum 30. April.",
    ],
)
def test_effect_words_followed_by_an_article(sentence: str) -> None:
    assert resolved(sentence, FRIDAY) == []


@pytest.mark.parametrize(
    "sentence",
    [
        "Regulators may block the app, the minister said.",
        "Regulators may block the service in May.",
        "Officials say that May 3 was chosen.",
    ],
)
def test_may_without_a_year_is_not_taken_as_the_month(sentence: str) -> None:
    assert resolved(sentence, FRIDAY) == []


def test_may_with_a_year_is_the_month() -> None:
    assert resolved("The ban was announced in May 2023.", FRIDAY) == [
        (dt.date(2023, 5, 15), "month", "in May 2023")
    ]
    assert resolved("The ban was lifted on May 3, 2023.", FRIDAY) == [
        (dt.date(2023, 5, 3), "day", "May 3, 2023")
    ]
    assert resolved("The regulator said it may block the app on Thursday.", THURSDAY) == [
        (THURSDAY, "day", "Thursday")
    ]


def test_a_number_before_the_verb_may_is_not_a_day_of_may() -> None:
    assert resolved("Of the apps on the list, 3 may be blocked.", FRIDAY) == []


# --- through the detector: the date an analyst sees as announced_on ------------------------------


def announced(lead: str, published: dt.date) -> list[dt.date | None]:
    when = dt.datetime.combine(published, dt.time(9), tzinfo=dt.UTC)
    return [d.announced_on for d in detect_text("Peru blocks Telegram", lead, when)]


def test_a_same_day_weekday_dates_the_event_on_publication() -> None:
    assert announced("Peru's regulator blocked Telegram on Thursday.", THURSDAY) == [THURSDAY]


def test_a_late_december_date_in_january_is_recent_news() -> None:
    found = detect_text(
        "Peru blocks Telegram",
        "Peru's regulator blocked Telegram on 30 December.",
        dt.datetime.combine(JAN_2, dt.time(9), tzinfo=dt.UTC),
    )
    assert [(d.announced_on, d.background) for d in found] == [(DEC_30, False)]


def test_an_end_date_does_not_date_the_event() -> None:
    lead = "Peru's regulator blocked Telegram yesterday; the block lasts until 30 June."
    assert announced(lead, FRIDAY) == [THURSDAY]
