"""When was it announced: resolve the time phrases of a sentence against the article's date.

News dates events relative to publication ("on Thursday", "yesterday", "last month", "in
December", "on 28 February"), so every phrase is resolved against the published date and,
without a year, to the latest matching day not after it. Phrases that say when a measure takes
effect or ends ("from January 1", "until July 8", "by March 20") are not announcement dates and
are skipped. Month and weekday names come in the six languages the detector reads.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from banwatch.enrich.lexicon import EFFECT_TIME

_MONTHS: dict[str, int] = {}
for _num, _names in enumerate(
    (
        "january jan januar janvier enero gennaio janeiro",
        "february feb februar février fevrier febrero febbraio fevereiro",
        "march mar märz maerz mars marzo março marco",
        "april apr avril abril aprile",
        "may mai mayo maggio maio",
        "june jun juni juin junio giugno junho",
        "july jul juli juillet julio luglio julho",
        "august aug août aout agosto",
        "september sept sep septembre septiembre settembre setembro",
        "october oct oktober octobre octubre ottobre outubro",
        "november nov novembre noviembre novembro",
        "december dec dezember décembre decembre diciembre dicembre dezembro",
    ),
    start=1,
):
    for _n in _names.split():
        _MONTHS[_n] = _num

_WEEKDAYS: dict[str, int] = {}
for _num, _names in enumerate(
    (
        "monday montag lundi lunes lunedì lunedi segunda-feira segunda",
        "tuesday dienstag mardi martes martedì martedi terça-feira terça",
        "wednesday mittwoch mercredi miércoles miercoles mercoledì mercoledi quarta-feira quarta",
        "thursday donnerstag jeudi jueves giovedì giovedi quinta-feira quinta",
        "friday freitag vendredi viernes venerdì venerdi sexta-feira sexta",
        "saturday samstag samedi sábado sabado sabato",
        "sunday sonntag dimanche domingo domenica",
    )
):
    for _n in _names.split():
        _WEEKDAYS[_n] = _num

# Abbreviations ("mar", "jan") are left out; "may" and "mai" are whole month names.
_MONTH_ALT = "|".join(
    sorted(
        (re.escape(m) for m in _MONTHS if len(m) > 3 or m in ("may", "mai")),
        key=len,
        reverse=True,
    )
)
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
_WEEKDAY_ALT = "|".join(sorted((re.escape(w) for w in _WEEKDAYS), key=len, reverse=True))

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # 28 February 2023 / 28. Februar / le 28 février
    (
        "dmy",
        re.compile(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|º)?\.?\s+(?:de\s+)?({_MONTH_ALT})"
            rf"(?:\s+(?:de\s+)?(\d{{4}}))?\b",
            re.I,
        ),
    ),
    # February 28, 2023
    (
        "mdy",
        re.compile(rf"\b({_MONTH_ALT})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I),
    ),
    # in December (2022) / mid-July / early March
    (
        "my",
        re.compile(
            rf"\b(?:in|since|of|mid-|early|late|en|im|a|em|nel|di)\s*"
            rf"({_MONTH_ALT})(?:\s+(\d{{4}}))?\b",
            re.I,
        ),
    ),
    ("weekday", re.compile(rf"\b({_WEEKDAY_ALT})\b", re.I)),
    (
        "rel",
        re.compile(
            r"\b(yesterday|today|tonight|this week|last week|earlier this week|last weekend|"
            r"earlier this month|this month|last month|last year|this year|"
            r"gestern|heute|letzte woche|letzten monat|vergangene woche|hier|aujourd'hui|"
            r"la semaine dernière|le mois dernier|ayer|hoy|la semana pasada|el mes pasado|"
            r"ieri|oggi|la settimana scorsa|il mese scorso|ontem|hoje|semana passada|"
            r"mês passado)\b",
            re.I,
        ),
    ),
    ("year", re.compile(r"\b(?:in|since|en|im|nel|em|of)\s+((?:19|20)\d\d)\b", re.I)),
    # "two years ago", "nine months ago"
    (
        "ago",
        re.compile(
            r"\b(\d{1,2}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
            r"\s+(day|week|month|year)s?\s+ago\b",
            re.I,
        ),
    ),
)

_RELATIVE_DAYS = {
    "yesterday": 1,
    "gestern": 1,
    "hier": 1,
    "ayer": 1,
    "ieri": 1,
    "ontem": 1,
    "today": 0,
    "tonight": 0,
    "heute": 0,
    "aujourd'hui": 0,
    "hoy": 0,
    "oggi": 0,
    "hoje": 0,
    "this week": 2,
    "earlier this week": 3,
    "last weekend": 5,
    "last week": 7,
    "letzte woche": 7,
    "vergangene woche": 7,
    "la semaine dernière": 7,
    "la semana pasada": 7,
    "la settimana scorsa": 7,
    "semana passada": 7,
    "earlier this month": 12,
    "this month": 10,
    "last month": 30,
    "letzten monat": 30,
    "le mois dernier": 30,
    "el mes pasado": 30,
    "il mese scorso": 30,
    "mês passado": 30,
    "last year": 365,
    "this year": 60,
}


@dataclass(frozen=True)
class TimeRef:
    """A resolved time phrase: the date, how precise it is, and where it was."""

    date: dt.date
    precision: str  # day | week | month | year
    start: int
    end: int
    text: str


def _latest(year_hint: int | None, month: int, day: int, ref: dt.date) -> dt.date | None:
    try:
        if year_hint:
            return dt.date(year_hint, month, day)
        d = dt.date(ref.year, month, day)
        return d if d <= ref + dt.timedelta(days=2) else dt.date(ref.year - 1, month, day)
    except ValueError:
        return None


def find_times(sentence: str, published: dt.date) -> list[TimeRef]:
    """Announcement-time phrases in `sentence`, resolved against `published`, in text order."""
    refs: list[TimeRef] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sentence):
            if any(not (m.end() <= a or m.start() >= b) for a, b in taken):
                continue
            if EFFECT_TIME.search(sentence[max(0, m.start() - 16) : m.start()]):
                taken.append(m.span())  # "until July 8": when it ends, not when announced
                continue
            ref = _resolve(kind, m, published)
            if ref is not None:
                refs.append(TimeRef(ref[0], ref[1], m.start(), m.end(), m.group(0)))
                taken.append(m.span())
    refs.sort(key=lambda r: r.start)
    return refs


def _resolve(kind: str, m: re.Match[str], ref: dt.date) -> tuple[dt.date, str] | None:
    g = m.groups()
    if kind == "dmy":
        d = _latest(int(g[2]) if g[2] else None, _MONTHS[g[1].lower()], int(g[0]), ref)
        return (d, "day") if d else None
    if kind == "mdy":
        if g[0].lower() == "may" and not g[2]:
            return None  # "may 5" is too often the modal verb + a number
        d = _latest(int(g[2]) if g[2] else None, _MONTHS[g[0].lower()], int(g[1]), ref)
        return (d, "day") if d else None
    if kind == "my":
        if g[0].lower() in ("may", "mai", "mar") and not g[1]:
            return None
        month = _MONTHS[g[0].lower()]
        year = int(g[1]) if g[1] else (ref.year if month <= ref.month else ref.year - 1)
        day = 15
        if year == ref.year and month == ref.month:
            day = min(15, ref.day)
        return dt.date(year, month, day), "month"
    if kind == "weekday":
        back = (ref.weekday() - _WEEKDAYS[g[0].lower()]) % 7
        return ref - dt.timedelta(days=back), "day"
    if kind == "rel":
        days = _RELATIVE_DAYS.get(g[0].lower(), 0)
        precision = "day" if days <= 1 else ("week" if days <= 7 else "month")
        if days >= 365:
            precision = "year"
        return ref - dt.timedelta(days=days), precision
    if kind == "ago":
        count = int(g[0]) if g[0].isdigit() else _NUMBER_WORDS[g[0].lower()]
        unit = g[1].lower()
        precision = "day" if unit == "day" else unit
        return ref - dt.timedelta(days=count * _UNIT_DAYS[unit]), precision
    if kind == "year":
        year = int(g[0])
        if year > ref.year:
            return None
        return (dt.date(year, 7, 1) if year < ref.year else ref), "year"
    return None
