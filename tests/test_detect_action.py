"""Action: ban, proposed or lifted, and the announcement date relative to publication."""

import datetime as dt

import pytest
from banwatch.enrich.detect import detect_text

PUB = dt.datetime(2024, 6, 14, 9, 0, tzinfo=dt.UTC)  # a Friday


def news(title: str, text: str = "") -> list:
    return [d for d in detect_text(title, text, PUB) if not d.background]


@pytest.mark.parametrize(
    ("title", "action"),
    [
        ("Kyrgyzstan bans TikTok", "ban"),
        ("Ghana will block Telegram, citing terror propaganda", "ban"),
        ("Philippines weighs a ban on TikTok for state workers' phones", "proposed"),
        ("Lawmakers in Ohio pass bill to ban WeChat statewide", "proposed"),
        ("Brazil could block Telegram, minister says", "proposed"),
        ("Sri Lanka threatens to block WhatsApp", "proposed"),
        ("Ethiopia ends its Telegram block", "lifted"),
        ("Court strikes down Kansas ban on TikTok", "lifted"),
        ("Nepal restores access to TikTok", "lifted"),
        ("Signal is back in Zimbabwe as the regulator ends a fortnight-long block", "lifted"),
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


def test_moves_to_is_a_proposal_unless_the_lead_says_it_was_ordered():
    (proposal,) = news("Peru moves to ban Signal")
    assert proposal.action == "proposed"
    (ordered,) = news(
        "Peru moves to ban Signal",
        "The telecoms regulator ordered operators on Wednesday to block the messaging app.",
    )
    assert ordered.action == "ban"


@pytest.mark.parametrize(
    ("title", "action"),
    [
        ("Ohio governor signs bill banning WeChat on state devices", "ban"),
        ("Ohio lawmakers pass bill banning WeChat on state devices", "proposed"),
        ("Court grants a stay of the Telegram ban in Peru", "lifted"),
        ("Peru regulator reinstates its nationwide Telegram block", "ban"),
        ("Peru drops its Telegram block after talks", "lifted"),
        ("Viber available for download again in Peru", "lifted"),
        pytest.param(
            "Telegram is listed in Peru's app stores again",
            "lifted",
            marks=pytest.mark.xfail(
                strict=True, reason="a return to app stores is known only as 'returns to'"
            ),
        ),
        ("Peru's top court authorised Telegram to resume operations", "lifted"),
    ],
)
def test_more_ways_of_saying_it(title, action):
    (d,) = news(title)
    assert d.action == action


def test_a_participle_stating_another_step_is_its_own_clause():
    found = detect_text(
        "Peru regulator reinstates nationwide Telegram block",
        "Peru's telecoms regulator ordered providers on Thursday to block Telegram across the "
        "country once more, reinstating the ban lifted in March.",
        PUB,
    )
    (ban,) = [d for d in found if not d.background]
    assert (ban.action, ban.announced_on) == ("ban", dt.date(2024, 6, 13))


def test_announcement_dates_in_other_forms():
    (d,) = news("Peru blocks Telegram", "Peru's regulator blocked Telegram two days ago.")
    assert d.announced_on == dt.date(2024, 6, 12)


@pytest.mark.parametrize(
    ("title", "action"),
    [
        pytest.param(
            "Peru rolls back its one-day Telegram ban",
            "lifted",
            marks=pytest.mark.xfail(strict=True, reason="'rolls back' is not read as a lifting"),
        ),
        ("Lima cuts Telegram and Signal ahead of the vote", "ban"),
        pytest.param(
            "Peru warns Telegram it could be shut off over fraud",
            "proposed",
            marks=pytest.mark.xfail(
                strict=True, reason="a warning is a threat only as 'threatens to shut ... down'"
            ),
        ),
        pytest.param(
            "Peru's ministers endorse plan for a short Telegram ban",
            "proposed",
            marks=pytest.mark.xfail(
                strict=True, reason="endorsing a planned ban is read as the ban itself"
            ),
        ),
    ],
)
def test_even_more_ways_of_saying_it(title, action):
    (d,) = news(title)
    assert (d.country, d.action) == ("PE", action)


def test_country_names_are_not_italian_verbs():
    # "viet-" starts Italian "vietare" (to ban) and also "Vietnam"
    assert news("Vietnam hosts a conference on messaging apps") == []
