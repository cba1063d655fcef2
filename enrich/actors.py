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


@cache
def _names() -> dict[str, _Entry]:
    """Every actor name (folded) -> what it stands for. Built once per process."""
    gaz = _gazetteer()
    names: dict[str, _Entry] = {}

    def add(name: str, entry: _Entry, *, override: bool = False) -> None:
        key = fold(name.strip())
        if len(key) < 2:
            return
        if override or key not in names:
            names[key] = entry

    translations = [
        gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang], fallback=True)
        for lang in TRANSLATION_LANGUAGES
    ]
    for c in pycountry.countries:
        entry = _Entry(country_name(c.alpha_2), c.alpha_2, None, "national", "country")
        forms = {c.name, getattr(c, "common_name", "") or "", getattr(c, "official_name", "") or ""}
        for t in translations:
            forms.add(t.gettext(c.name))
        for form in forms:
            if form and "," not in form:
                add(form, entry)
    for alpha2, aliases in gaz["country_aliases"].items():
        if alpha2 == "EU":
            entry = _Entry("European Union", "EU", None, "supranational", "country")
        else:
            entry = _Entry(country_name(alpha2), alpha2, None, "national", "country")
        for a in aliases:
            add(a, entry, override=True)
    for alpha2, words in gaz["demonyms"].items():
        level = "supranational" if alpha2 == "EU" else "national"
        jur = "European Union" if alpha2 == "EU" else country_name(alpha2)
        for w in words:
            add(w, _Entry(jur, alpha2, None, level, "demonym"))
    for alpha2, info in _countryinfo().items():
        # every other country's other names, demonym and capital (the hand lists win)
        jur = country_name(alpha2)
        for name in info["names"]:
            add(name, _Entry(jur, alpha2, None, "national", "country"))
        for word in info["demonyms"]:
            add(word, _Entry(jur, alpha2, None, "national", "demonym"))
        if info["capital"]:
            add(info["capital"], _Entry(jur, alpha2, None, "national", "capital"))
    for sovereign, codes in gaz.get("territories", {}).items():
        for code in codes:
            c = pycountry.countries.get(alpha_2=code)
            forms = {c.name, getattr(c, "common_name", "") or ""} if c else set()
            forms |= {t.gettext(c.name) for t in translations} if c else set()
            forms |= set(_countryinfo().get(code, {}).get("names", ()))
            entry = _Entry(country_name(sovereign), sovereign, None, "national", "territory")
            for form in forms:
                if form and "," not in form:
                    add(form, entry, override=True)
    for alpha2, cities in gaz["capitals"].items():
        level = "supranational" if alpha2 == "EU" else "national"
        jur = "European Union" if alpha2 == "EU" else country_name(alpha2)
        for city in cities:
            add(city, _Entry(jur, alpha2, None, level, "capital"), override=True)
    for name, alpha2, kind in gaz["bodies"]["names"]:
        add(name, _Entry(country_name(alpha2), alpha2, None, "national", "body", kind))
    sub = gaz["subnational"]
    for alpha2 in sub["countries"]:
        for s in pycountry.subdivisions.get(country_code=alpha2) or ():
            if alpha2 == "GB" and s.type not in ("Country", "Province", "Nation"):
                continue  # UK: the four nations act, not counties
            if s.parent_code is not None:
                continue  # districts and counties inside a state do not ban apps
            name = _subdivision_display(s)
            entry = _Entry(name, alpha2, s.code, "subnational", "subdivision")
            for form in _subdivision_forms(s):
                # a capital used for the state ("Washington", "Vienna") keeps that meaning
                seat = names.get(fold(form))
                keep = seat is not None and seat.kind == "capital" and seat.country == alpha2
                add(form, entry, override=not keep)
    for alpha2 in sub["national_only"]:
        for s in pycountry.subdivisions.get(country_code=alpha2) or ():
            # the code rides along: a state government acting is sub-national, a court is not
            entry = _Entry(country_name(alpha2), alpha2, s.code, "national", "region")
            for form in _subdivision_forms(s):
                if fold(form) not in names:
                    add(form, entry)
    for table, kind in (
        ("subdivision_aliases", "subdivision"),
        ("subdivision_demonyms", "demonym"),
    ):
        for code, aliases in gaz[table].items():
            name = subdivision_name(code)
            for a in aliases:
                add(a, _Entry(name, code[:2], code, "subnational", kind), override=True)
    return names


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
