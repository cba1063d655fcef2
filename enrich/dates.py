"""When was it announced: resolve the time phrases of a sentence against the article's date.

News dates events relative to publication ("on Thursday", "yesterday", "last month", "in
December", "on 28 February"), so every phrase is resolved against the published date and,
without a year, to the latest matching day not after it. Phrases that say when a measure takes
effect or ends ("from January 1", "until July 8", "by March 20") are not announcement dates and
are skipped.

dateparser supplies the month, weekday and relative-day vocabulary of the six languages the
detector reads and does the calendar arithmetic (latest past date, "last month", "two years
ago", impossible days). What stays here is what it does not do: finding the phrases with their
offsets in the clause (its `search_dates` gives none, and scanning a whole clause with it is
slow and matches stray words), skipping effect phrases, and the detector's conventions for
spans that have only partly passed (see `_PARTLY_PASSED`).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from banwatch.enrich.lexicon import EFFECT_TIME
from dateparser.date import DateDataParser
from dateparser.languages.loader import default_loader

LANGUAGES = ("en", "de", "fr", "es", "it", "pt")
_MONTH_KEYS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_WEEKDAY_KEYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = ("day", "week", "month", "year")


def _spellings(name: str) -> set[str]:
    """A name as dateparser spells it, without its accents, and German umlauts as "ae"."""
    bare = "".join(c for c in unicodedata.normalize("NFD", name) if unicodedata.category(c) != "Mn")
    return {name, bare, name.replace("ä", "ae")}


def _vocabulary(keys: tuple[str, ...], keep: Callable[[str], bool]) -> dict[str, int]:
    """Spelling -> index of its key, over the six languages' dateparser locale data."""
    found: dict[str, int] = {}
    for lang in LANGUAGES:
        info = default_loader.get_locale(lang).info
        for number, key in enumerate(keys):
            for name in info.get(key, ()):
                for spelling in _spellings(name.lower()):
                    if keep(spelling):
                        found.setdefault(spelling, number)
    return found


def _relative_vocabulary() -> dict[str, str]:
    """Phrase -> dateparser's own reading ("gestern" -> "1 day ago"), the recent past only."""
    wanted = {f"{n} {unit} ago" for n in range(3) for unit in _UNITS}
    found: dict[str, str] = {}
    for lang in LANGUAGES:
        for key, phrases in default_loader.get_locale(lang).info["relative-type"].items():
            if key in wanted:
                found.update((p.lower(), key) for p in phrases)
    return found


# Abbreviations ("mar", "jan", "lun") are left out; "may" and "mai" are whole month names.
_MONTHS = {
    name: number + 1
    for name, number in _vocabulary(
        _MONTH_KEYS, lambda n: len(n) > 3 or n in ("may", "mai")
    ).items()
}
_WEEKDAYS = _vocabulary(_WEEKDAY_KEYS, lambda n: len(n) > 4)
_RELATIVE = _relative_vocabulary()

# What dateparser cannot give: spans that have only partly passed ("this week", "earlier this
# month") it reads as the reference day itself, or not at all; the detector needs how far back
# such a statement typically points (days back, precision), so "earlier this month" can date an
# event before the recent window. Phrases dateparser's locale data lacks are here too.
_PARTLY_PASSED: dict[str, tuple[int, str]] = {
    "0 week ago": (2, "week"),
    "0 month ago": (10, "month"),
    "0 year ago": (60, "year"),
}
_EXTRA_RELATIVE: dict[str, tuple[int, str]] = {
    "tonight": (0, "day"),
    "earlier this week": (3, "week"),
    "last weekend": (5, "week"),
    "earlier this month": (12, "month"),
    "vergangene woche": (7, "week"),
    "la settimana scorsa": (7, "week"),
    "il mese scorso": (30, "month"),
}


def _alternation(words: Iterable[str]) -> str:
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


_MONTH_ALT = _alternation(_MONTHS)
_WEEKDAY_ALT = _alternation(_WEEKDAYS)
_RELATIVE_ALT = _alternation([*_RELATIVE, *_EXTRA_RELATIVE])

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
    ("rel", re.compile(rf"\b({_RELATIVE_ALT})(?!\w)", re.I)),
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


@dataclass(frozen=True)
class TimeRef:
    """A resolved time phrase: the date, how precise it is, and where it was."""

    date: dt.date
    precision: str  # day | week | month | year
    start: int
    end: int
    text: str


@lru_cache(maxsize=256)
def _parser(base: dt.date) -> DateDataParser:
    """One parser per reference day (its settings are fixed at construction), English only:
    phrases reach it spelled in English ("28 February", "1 week ago"), which skips
    dateparser's language detection, the costly part of a call."""
    return DateDataParser(
        languages=["en"],
        settings={
            "RELATIVE_BASE": dt.datetime.combine(base, dt.time()),
            "PREFER_DATES_FROM": "past",
        },
    )


@lru_cache(maxsize=4096)
def _parse(text: str, base: dt.date) -> tuple[dt.date, str] | None:
    """(date, period) of an English date phrase read against `base`, or None. Cached: a call
    costs ~0.4 ms, and a batch repeats phrases ("on Thursday") against the same days."""
    data = _parser(base).get_date_data(text)
    if data.date_obj is None:
        return None
    period = data.period if data.period in _UNITS else "day"
    return data.date_obj.date(), period


def _day(day: str, month: str, year: str | None, ref: dt.date) -> tuple[dt.date, str] | None:
    # Without a year, the latest such day not more than two days after publication (a story
    # filed late on the 27th may say "on 28 February").
    text = f"{int(day)} {_MONTH_KEYS[_MONTHS[month.lower()] - 1]} {year or ''}".strip()
    found = _parse(text, ref + dt.timedelta(days=2))
    return (found[0], "day") if found else None


def _dmy(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    if g[1] == "may" and not g[2]:
        return None  # "3 may be blocked": the month is written "May", the modal verb is not
    return _day(g[0] or "", g[1] or "", g[2], ref)


def _mdy(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    if (g[0] or "").lower() == "may" and not g[2]:
        return None  # "may 5" is too often the modal verb + a number
    return _day(g[1] or "", g[0] or "", g[2], ref)


def _month(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    name, year = (g[0] or "").lower(), g[1]
    if name in ("may", "mai", "mar") and not year:
        return None
    found = _parse(f"{_MONTH_KEYS[_MONTHS[name] - 1]} {year or ''}".strip(), ref)
    if found is None:
        return None
    # A month is dated at its middle, or at publication if that is earlier.
    when = found[0].replace(day=15)
    return min(when, ref) if (when.year, when.month) == (ref.year, ref.month) else when, "month"


def _weekday(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    # Read against the next day, so the publication day's own name means that day.
    name = _WEEKDAY_KEYS[_WEEKDAYS[(g[0] or "").lower()]]
    found = _parse(name, ref + dt.timedelta(days=1))
    return (found[0], "day") if found else None


def _relative(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    phrase = (g[0] or "").lower()
    reading = _RELATIVE.get(phrase)
    fixed = _EXTRA_RELATIVE.get(phrase) or _PARTLY_PASSED.get(reading or "")
    if fixed is not None:
        return ref - dt.timedelta(days=fixed[0]), fixed[1]
    return _parse(reading, ref) if reading else None


def _ago(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    count, unit = (g[0] or "").lower(), (g[1] or "").lower()
    return _parse(f"{count} {unit}s ago", ref)


def _year(g: tuple[str | None, ...], ref: dt.date) -> tuple[dt.date, str] | None:
    year = int(g[0] or 0)
    if year > ref.year:
        return None
    return (dt.date(year, 7, 1) if year < ref.year else ref), "year"


_RESOLVERS: dict[str, Callable[[tuple[str | None, ...], dt.date], tuple[dt.date, str] | None]] = {
    "dmy": _dmy,
    "mdy": _mdy,
    "my": _month,
    "weekday": _weekday,
    "rel": _relative,
    "ago": _ago,
    "year": _year,
}


# An article between the effect word and the date ("hasta el 30 de junio", "bis zum 30. April")
# still makes it the end or start of the measure; stripped here, not in EFFECT_TIME, which the
# detector's trained features read as it is.
_ARTICLE_BEFORE = re.compile(
    r"\b(?:el|la|los|le|les|the|dem|den|der|zum|zur|il|lo|o|a)\s+$", re.IGNORECASE
)


def find_times(sentence: str, published: dt.date) -> list[TimeRef]:
    """Announcement-time phrases in `sentence`, resolved against `published`, in text order."""
    refs: list[TimeRef] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sentence):
            if any(not (m.end() <= a or m.start() >= b) for a, b in taken):
                continue
            before = _ARTICLE_BEFORE.sub("", sentence[max(0, m.start() - 20) : m.start()])
            if EFFECT_TIME.search(before):
                taken.append(m.span())  # "until July 8": when it ends, not when announced
                continue
            ref = _RESOLVERS[kind](m.groups(), published)
            if ref is not None:
                refs.append(TimeRef(ref[0], ref[1], m.start(), m.end(), m.group(0)))
                taken.append(m.span())
    refs.sort(key=lambda r: r.start)
    return refs
