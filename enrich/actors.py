"""Who acts: countries, sub-national units, EU institutions and government bodies in a sentence.

Names come from pycountry wherever it has them (English, official and common names, the
de/fr/es/it/pt translations shipped with it, ISO 3166-2 subdivisions); `data/actors.toml`
adds only what pycountry lacks: short forms ("UK"), demonyms ("Dutch"), capitals used as
metonyms ("Ankara"), named bodies ("Roskomnadzor") and adjectives of regions ("Welsh").
This module only finds mentions; whether a mention is the *actor* of a ban is decided by the
detector from the mention's role in the sentence.
"""

from __future__ import annotations

import gettext
import logging
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import pycountry

logger = logging.getLogger(__name__)

GAZETTEER = Path(__file__).with_name("data") / "actors.toml"
TRANSLATION_LANGUAGES = ("de", "fr", "es", "it", "pt")

# Generic nouns for parts of a state, with the kind of body they are. Order matters: the
# first matching alternative wins, so longer phrases come first.
_BODY_NOUNS: tuple[tuple[str, str], ...] = (
    (
        r"data[- ]protection (?:authority|agency|commissioner|regulator|watchdog)|"
        r"privacy (?:watchdog|regulator|authority|commissioner)|data regulator|"
        r"data (?:protection )?(?:watchdog|supervisor|board)|"
        r"Datenschützer|Datenschutzbeauftragte[rn]?|Datenschutzbehörde|Garante(?: privacy)?|"
        r"(?:Agencia|Autoridade|Autorité|Autorità|Comisión|Commission)?[^.]{0,20}?"
        r"(?:Protección de Datos|Proteção de Dados|protezione dei dati|protection des données)|"
        r"Beauftragte für Datenschutz|Personal Information Protection Commission|"
        r"Garante per la protezione dei dati personali",
        "dpa",
    ),
    (
        r"(?:telecoms?|telecommunications?|communications|media|internet|cyberspace|"
        r"information|technology|IT) (?:regulator|authority|watchdog|ministry|minister|"
        r"directorate|agency|commission)",
        "regulator",
    ),
    (r"(?:defen[cs]e|armed forces|army|military) (?:ministry|department|minister)", "military"),
    (
        r"ministry of defen[cs]e|defen[cs]e ministry|armed forces|military|army|navy|"
        r"soldiers|troops|service members|servicemen|"
        r"Verteidigungsministerium|Bundeswehr|Armee|Streitkräfte|Bundesheer|forces armées|armée|"
        r"esercito|ejército|exército|Forças Armadas|Fuerzas Armadas",
        "military",
    ),
    (
        # those who make the state's laws: their bans are the state's, not a body's own
        r"legislature|lawmakers|legislators|senators|state senate|state house|"
        r"house of representatives|députés|diputados|deputati|Abgeordnete",
        "legislature",
    ),
    (
        r"parliamentary service|parliament's administration|parliament|MPs|senate|"
        r"national assembly|assembly|Parlament|Parlement|Parlamento|Landtag",
        "parliament",
    ),
    (
        r"(?:supreme|high|constitutional|federal|district|appeals?|criminal|state|top) court|"
        r"court|courts|judge|judges|justice|judiciary|tribunal|tribunale|Gericht|"
        r"Verfassungsgericht|Justiça|juiz|juge|juez|giudice|Tribunal",
        "court",
    ),
    (
        r"Datenschützer|Datenschutzbeauftragte[rn]?|Datenschutzbehörde|data regulator|"
        r"regulators?|watchdog|authorit(?:y|ies)|censors|Behörde|autorité|autoridad|"
        r"autorità|Autorità|autoridade|régulateur|regulador|Garante",
        "regulator",
    ),
    (
        r"government|governments|cabinet|administration|state|federal government|"
        r"Regierung|gouvernement|gobierno|governo|executive|Etat|État|Estado|Stato",
        "government",
    ),
    (
        r"ministry|ministries|minister|ministers|department|agencies|agency|officials|"
        r"Ministerium|ministère|ministre|ministerio|ministero|ministério",
        "ministry",
    ),
    (r"governor|president|prime minister|premier|chancellor", "leader"),
    (r"police|security services", "police"),
)
BODY_RE = re.compile(
    "|".join(f"(?P<b{i}>\\b(?:{p})\\b)" for i, (p, _k) in enumerate(_BODY_NOUNS)),
    re.IGNORECASE,
)
_BODY_KINDS = {f"b{i}": k for i, (_p, k) in enumerate(_BODY_NOUNS)}

# EU institutions: each is its own acting body (two institutions banning = two events).
_EU_INSTITUTIONS: tuple[tuple[str, str], ...] = (
    (
        r"European Commission|EU Commission|Commission européenne|EU-Kommission|"
        r"Europäische Kommission|Comisión Europea|Commissione europea|Comissão Europeia|"
        r"EU executive|\bCommission\b(?! (?:nationale|on|for|of))",
        "European Commission",
    ),
    (
        r"European Parliament|EU Parliament|EU-Parlament|Europäische[sn]? Parlament|"
        r"Parlement européen|Parlamento Europeo|Parlamento Europeu",
        "European Parliament",
    ),
    (
        r"Council of the (?:European Union|EU)|EU Council|Council of the EU|"
        r"European Council|Conseil de l'UE|Rat der EU",
        "Council of the European Union",
    ),
)
EU_RE = re.compile("|".join(f"(?P<e{i}>{p})" for i, (p, _n) in enumerate(_EU_INSTITUTIONS)))
_EU_NAMES = {f"e{i}": n for i, (_p, n) in enumerate(_EU_INSTITUTIONS)}


@dataclass(frozen=True)
class ActorMention:
    """A place or body named in a sentence (character offsets into the sentence)."""

    jurisdiction: str  # in words: "United Kingdom", "Wales", "European Commission"
    country: str  # ISO alpha-2, "EU" for EU institutions, "" when unknown (a bare "court")
    subdivision: str | None
    level: str  # national | subnational | supranational
    kind: str  # country | demonym | capital | subdivision | region | territory | eu | body
    start: int
    end: int
    body: str = ""  # body kind for kind == "body" (court, parliament, ...); EU institution name
    text: str = ""


def fold(text: str) -> str:
    """Strip accents but keep every character position (one output char per input char)."""
    return "".join(unicodedata.normalize("NFD", ch)[0] for ch in text)


@dataclass(frozen=True)
class _Entry:
    jurisdiction: str
    country: str
    subdivision: str | None
    level: str
    kind: str
    body: str = ""


def country_name(alpha2: str) -> str:
    """The name news uses for a country ("Russia", not "Russian Federation")."""
    display = _gazetteer()["display"]
    if alpha2 in display:
        return display[alpha2]
    c = pycountry.countries.get(alpha_2=alpha2)
    if c is None:
        return alpha2
    return getattr(c, "common_name", None) or c.name


def subdivision_name(code: str) -> str:
    s = pycountry.subdivisions.get(code=code)
    return _subdivision_display(s) if s else code


@cache
def _gazetteer() -> dict:
    return tomllib.loads(GAZETTEER.read_text(encoding="utf-8"))


# Capitals that are also common words or other places' names: not metonyms for a state.
_AMBIGUOUS_CAPITALS = frozenset({"Male", "Victoria", "Kingston", "Hamilton", "Georgetown"})


@cache
def _countryinfo() -> dict[str, dict]:
    """Other names, demonyms and capitals of every country, from the countryinfo package.

    pycountry has names but no demonyms or capitals. Country codes among the alternative
    spellings ("NL", "NLD") are left out; "-stan" countries also get the short demonym news
    uses ("Kyrgyz", "Uzbek") beside the listed one ("Kirghiz").
    """
    import countryinfo

    found: dict[str, dict] = {}
    for c in countryinfo.all_countries():
        try:
            alpha2 = c.iso(2)
            if alpha2 in found or pycountry.countries.get(alpha_2=alpha2) is None:
                continue
            names = [
                n
                for n in c.alt_spellings() or ()
                if not (n.isupper() and len(n) <= 3) and "," not in n and len(n) > 3
            ]
            demonyms = [c.demonym()] if c.demonym() else []
            capital = c.capital() or ""
            if isinstance(capital, list):  # a few entries list several seats
                capital = capital[0] if capital else ""
        except Exception:  # an entry with missing fields: skip it, the hand lists remain
            continue
        short = getattr(pycountry.countries.get(alpha_2=alpha2), "name", "")
        for suffix in ("istan", "stan"):
            if short.endswith(suffix) and len(short) - len(suffix) >= 4:
                demonyms.append(short[: -len(suffix)])
                break
        found[alpha2] = {
            "names": names,
            "demonyms": [d for d in demonyms if d],
            "capital": "" if fold(capital) in _AMBIGUOUS_CAPITALS else capital,
        }
    return found


@cache
def _subdivision_translations() -> list[gettext.NullTranslations]:
    return [
        gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
        for lang in ("en", *TRANSLATION_LANGUAGES)
    ]


def _subdivision_display(s) -> str:
    """The English name news uses ("Bavaria" for "Bayern"), else pycountry's own."""
    display = _gazetteer().get("subdivision_display", {})
    if s.code in display:
        return display[s.code]
    english = _subdivision_translations()[0].gettext(s.name)
    return re.sub(r"\s*\[.*?\]", "", english)


def _subdivision_forms(s) -> set[str]:
    """A subdivision's own name, its bracketed alternative and its six-language translations."""
    raw = {s.name, *(t.gettext(s.name) for t in _subdivision_translations())}
    forms = set()
    for name in raw:
        forms.add(re.sub(r"\s*\[.*?\]", "", name))
        forms.update(re.findall(r"\[(.*?)\]", name))
    return {f.strip() for f in forms if f.strip() and "," not in f}


class _NameTable:
    """Folded actor name -> entry, filled source by source; a later source overrides an
    earlier one only where it says so (the hand lists win over pycountry's guesses)."""

    def __init__(self) -> None:
        self.names: dict[str, _Entry] = {}

    def add(self, name: str, entry: _Entry, *, override: bool = False) -> None:
        key = fold(name.strip())
        if len(key) < 2:
            return
        if override or key not in self.names:
            self.names[key] = entry

    def add_forms(self, forms: set[str], entry: _Entry, *, override: bool = False) -> None:
        """Country-like forms; "Korea, Republic of" style inversions are not how news writes."""
        for form in forms:
            if form and "," not in form:
                self.add(form, entry, override=override)


def _jurisdiction(alpha2: str) -> tuple[str, str]:
    """(name, level) of a country code, the EU being supranational."""
    if alpha2 == "EU":
        return "European Union", "supranational"
    return country_name(alpha2), "national"


@cache
def _country_translations() -> list[gettext.NullTranslations]:
    return [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
        for lang in TRANSLATION_LANGUAGES
    ]


def _pycountry_forms(c) -> set[str]:
    """A country's name, common and official names, and their translations."""
    forms = {c.name, getattr(c, "common_name", "") or "", getattr(c, "official_name", "") or ""}
    for t in _country_translations():
        forms.add(t.gettext(c.name))
    return forms


def _add_countries(table: _NameTable, gaz: dict) -> None:
    """pycountry's names first, then the hand-listed aliases (they win) and demonyms."""
    for c in pycountry.countries:
        entry = _Entry(country_name(c.alpha_2), c.alpha_2, None, "national", "country")
        table.add_forms(_pycountry_forms(c), entry)
    for alpha2, aliases in gaz["country_aliases"].items():
        jur, level = _jurisdiction(alpha2)
        for a in aliases:
            table.add(a, _Entry(jur, alpha2, None, level, "country"), override=True)
    for alpha2, words in gaz["demonyms"].items():
        jur, level = _jurisdiction(alpha2)
        for w in words:
            table.add(w, _Entry(jur, alpha2, None, level, "demonym"))


def _add_countryinfo(table: _NameTable) -> None:
    """Every country's other names, demonym and capital where the hand lists left them free."""
    for alpha2, info in _countryinfo().items():
        jur = country_name(alpha2)
        for name in info["names"]:
            table.add(name, _Entry(jur, alpha2, None, "national", "country"))
        for word in info["demonyms"]:
            table.add(word, _Entry(jur, alpha2, None, "national", "demonym"))
        if info["capital"]:
            table.add(info["capital"], _Entry(jur, alpha2, None, "national", "capital"))


def _add_territories(table: _NameTable, gaz: dict) -> None:
    """A dependent territory's names stand for its sovereign (its government acts)."""
    for sovereign, codes in gaz.get("territories", {}).items():
        entry = _Entry(country_name(sovereign), sovereign, None, "national", "territory")
        for code in codes:
            c = pycountry.countries.get(alpha_2=code)
            forms = {c.name, getattr(c, "common_name", "") or ""} if c else set()
            forms |= {t.gettext(c.name) for t in _country_translations()} if c else set()
            forms |= set(_countryinfo().get(code, {}).get("names", ()))
            table.add_forms(forms, entry, override=True)


def _add_capitals_and_bodies(table: _NameTable, gaz: dict) -> None:
    for alpha2, cities in gaz["capitals"].items():
        jur, level = _jurisdiction(alpha2)
        for city in cities:
            table.add(city, _Entry(jur, alpha2, None, level, "capital"), override=True)
    for name, alpha2, kind in gaz["bodies"]["names"]:
        table.add(name, _Entry(country_name(alpha2), alpha2, None, "national", "body", kind))


def _acting_subdivisions(alpha2: str):
    """The top-level subdivisions of a country that can ban apps (the UK: its four nations)."""
    for s in pycountry.subdivisions.get(country_code=alpha2) or ():
        if alpha2 == "GB" and s.type not in ("Country", "Province", "Nation"):
            continue  # UK: the four nations act, not counties
        if s.parent_code is not None:
            continue  # districts and counties inside a state do not ban apps
        yield s


def _add_states(table: _NameTable, countries: list[str]) -> None:
    """States and nations that act for themselves (sub-national actors)."""
    for alpha2 in countries:
        for s in _acting_subdivisions(alpha2):
            entry = _Entry(_subdivision_display(s), alpha2, s.code, "subnational", "subdivision")
            for form in _subdivision_forms(s):
                # a capital used for the state ("Washington", "Vienna") keeps that meaning
                seat = table.names.get(fold(form))
                keep = seat is not None and seat.kind == "capital" and seat.country == alpha2
                table.add(form, entry, override=not keep)


def _add_regions(table: _NameTable, countries: list[str]) -> None:
    """Regions of countries whose courts act for the nation; the code rides along, since a
    region's own government acting is sub-national (`candidates._actor_of`)."""
    for alpha2 in countries:
        for s in pycountry.subdivisions.get(country_code=alpha2) or ():
            entry = _Entry(country_name(alpha2), alpha2, s.code, "national", "region")
            for form in _subdivision_forms(s):
                if fold(form) not in table.names:
                    table.add(form, entry)


def _add_subdivision_aliases(table: _NameTable, gaz: dict) -> None:
    """Hand-listed short names and adjectives of sub-national units ("Welsh"): they win."""
    for key, kind in (("subdivision_aliases", "subdivision"), ("subdivision_demonyms", "demonym")):
        for code, aliases in gaz[key].items():
            name = subdivision_name(code)
            for a in aliases:
                table.add(a, _Entry(name, code[:2], code, "subnational", kind), override=True)


@cache
def _names() -> dict[str, _Entry]:
    """Every actor name (folded) -> what it stands for. Built once per process; the order of
    the sources decides who wins a name two of them give."""
    gaz = _gazetteer()
    table = _NameTable()
    _add_countries(table, gaz)
    _add_countryinfo(table)
    _add_territories(table, gaz)
    _add_capitals_and_bodies(table, gaz)
    _add_states(table, gaz["subnational"]["countries"])
    _add_regions(table, gaz["subnational"]["national_only"])
    _add_subdivision_aliases(table, gaz)
    return table.names


@cache
def _names_re() -> re.Pattern[str]:
    keys = sorted(_names(), key=len, reverse=True)
    alternation = "|".join(re.escape(k) for k in keys)
    # Case-sensitive: country names are capitalised, and "US"/"us" must differ.
    return re.compile(rf"(?<![\w-])(?:{alternation})(?![\w])")


def find_actors(sentence: str) -> list[ActorMention]:
    """All places, EU institutions and government bodies named in `sentence`, in order."""
    return list(_find_actors(sentence))


@lru_cache(maxsize=8192)
def _find_actors(sentence: str) -> tuple[ActorMention, ...]:
    # the detector asks about the same sentence and clause many times (context, clauses, roles)
    folded = fold(sentence)
    found: list[ActorMention] = []
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    for m in EU_RE.finditer(folded):
        name = _EU_NAMES[m.lastgroup or ""]
        if m.group(0) == "Commission" and _named_commission(folded, m.start()):
            continue  # "Federal Communications Commission", "Election Commission"
        found.append(
            ActorMention(
                name,
                "EU",
                None,
                "supranational",
                "eu",
                m.start(),
                m.end(),
                name,
                sentence[m.start() : m.end()],
            )
        )
        taken.append(m.span())
    names = _names()
    for m in _names_re().finditer(folded):
        if not free(*m.span()):
            continue
        e = names[m.group(0)]
        if m.group(0) in ("US", "U.S.") and _us_is_pronoun(sentence, m.start()):
            continue
        found.append(
            ActorMention(
                e.jurisdiction,
                e.country,
                e.subdivision,
                e.level,
                e.kind,
                m.start(),
                m.end(),
                e.body,
                sentence[m.start() : m.end()],
            )
        )
        taken.append(m.span())
    for m in BODY_RE.finditer(sentence):
        if not free(*m.span()):
            continue
        kind = _BODY_KINDS[m.lastgroup or ""]
        found.append(
            ActorMention(
                "",
                "",
                None,
                "national",
                "body",
                m.start(),
                m.end(),
                kind,
                sentence[m.start() : m.end()],
            )
        )
        taken.append(m.span())
    found.sort(key=lambda a: a.start)
    return tuple(found)


def _named_commission(text: str, start: int) -> bool:
    prev = re.search(r"(\S+)\s+$", text[:start])
    return bool(prev and prev.group(1)[0].isupper() and prev.group(1) not in ("The", "EU"))


def _us_is_pronoun(sentence: str, start: int) -> bool:
    """'US' in an all-caps headline may be the pronoun ("LET US"); rare, but cheap to check."""
    head = sentence[max(0, start - 6) : start]
    return head.isupper() and head.strip().isalpha()
