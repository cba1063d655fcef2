"""The app catalogue and app mentions in a sentence.

A catalogue maps every name an app goes by (aliases, old names, local names) to one canonical
name, so "Twitter" and "X" are one app and "Weixin" is "WeChat". It is a TOML file
(`enrich/data/apps.toml`); `settings.detect.apps_file` names an extra file merged over it.
Apps outside the catalogue are still recognised from how news writes about them ("the Chinese
shopping app Temu", "Zello, a walkie-talkie app"), and generic nouns ("the video app", "the
platform") are reported as anaphoric mentions the detector resolves against the article.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from banwatch.errors import ConfigError

logger = logging.getLogger(__name__)

BUILTIN_CATALOGUE = Path(__file__).with_name("data") / "apps.toml"

# Nouns news uses for an app; "site" and "network" only with a qualifier (see _GENERIC).
KIND_NOUNS = (
    r"apps?|applications?|aplicaci[oó]n(?:es)?|applicazion[ei]|aplicativos?|"
    r"platforms?|plateformes?|plataformas?|piattaforma|messengers?|messaging services?|"
    r"chatbots?|chat services?|games?|software|antivirus|browsers?|services?|"
    r"social networks?|networks?|sites?|tools?|assistants?"
)
_APP_KIND = (
    r"(?:app|application|platform|messenger|chatbot|game|browser|service|"
    r"network|site|software|assistant)"
)
# "the Chinese shopping app Temu", "live-streaming app Bigo", "the AI chatbot Claude"
_NAMED_AFTER_KIND = re.compile(
    rf"\b{_APP_KIND}s?\s+((?:[A-Z][\w.+&-]*|[a-z]+[A-Z][\w.+-]*)(?:\s+[A-Z][\w.+-]*){{0,2}})"
)
# "Zello, a walkie-talkie app", "Temu, the Chinese shopping platform"
_NAMED_BEFORE_KIND = re.compile(
    rf"\b((?:[A-Z][\w.+&-]*)(?:\s+[A-Z][\w.+-]*){{0,2}}),\s+(?:an?|the)\s+"
    rf"(?:[\w'-]+\s+){{0,4}}?{_APP_KIND}s?\b"
)
# Generic mentions: "the app", "the video-sharing app", "the Chinese-owned platform".
_GENERIC = re.compile(
    r"\b(?:(?:the|this|that|its|an?|le|la|l'|il|lo|el|o|a|das|die|der)\s+)?"
    r"(?:[\w'-]+\s+){0,3}?"
    r"(?:apps?|application|platform|plateforme|plataforma|piattaforma|messenger|chatbot|"
    r"game|shooter|video app|network|site|service|software|antivirus|title|"
    r"microblogging site|social network|social media|réseaux sociaux|redes sociales|"
    r"redes sociais|soziale[nr]? (?:Medien|Netzwerke)|"
    r"Anwendung|App|applicazione|aplicación|aplicativo)\b",
    re.IGNORECASE,
)
# Capitalised words that follow a kind noun but are not names ("the app Store", "App Store").
_NOT_NAMES = frozenset(
    "Store Stores The A An In On Of For To From And Or But Is Was Will Would Could Should "
    "It Its This That These Those After Before Since Monday Tuesday Wednesday Thursday "
    "Friday Saturday Sunday January February March April May June July August September "
    "October November December Act Over Amid As At By With Without Due Following Until "
    "Across Against Into Under Within Again Too Nationwide Access App Apps Use Users "
    "Government Devices Phones Official State Federal National Public Ban Block Bans Blocks "
    "Order Orders Law Bill New Chinese Russian American Social Media Video Messaging "
    "Online Internet Services Service Platform Platforms Network Networks Sites Site".split()
)
# A capitalised name right after an action verb ("Jordan blocks Tango"), or right before a
# ban noun ("lifts Tango ban"): an app outside the catalogue, if the article calls it one.
_NAME = r"(?:[A-Z][\w.+&'-]*|[a-z]+[A-Z][\w.+-]*)(?:\s+(?:[A-Z][\w.+-]*|\d+)){0,2}"
_NAME_AFTER = re.compile(
    r"^\s+(?:[a-z]+\s+){0,2}?(?:from\s+(?:having|using|installing|downloading|accessing)\s+)?"
    r"(?:(?:the|its|access to|on|of)\s+)?(?:(?:web|mobile|desktop|online)\s+version\s+of\s+)?"
    rf"(?P<name>{_NAME})"
)
# "ChatGPT", "WeChat", "TikTok": a capital inside a word marks a product name
CAMEL = re.compile(r"^[A-Za-z]+[a-z][A-Z]\w*$|^[A-Z][a-z]+[A-Z][A-Za-z]*$")
_NAME_BEFORE = re.compile(rf"(?P<name>{_NAME})(?:'s?|’s?)?\s+$")
_NOT_APP_AFTER = re.compile(
    r"^(?:'s|’s|\s+(?:chips?|semiconductors?|products?|hardware|equipment|components?|"
    r"exports?|imports?|shares?|stock|executives?|staff|employees|phones?|handsets?|"
    r"cameras?|drones?|cars?|vehicles?|cigarettes?|vapes?|goods))\b",
    re.IGNORECASE,
)
_BAN_NOUN = re.compile(r"^(?:ban|block|blocking|suspension|prohibition|Verbot|Sperre)$", re.I)


@dataclass(frozen=True)
class AppInfo:
    """One catalogue entry."""

    name: str
    aliases: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    kind: str = "app"
    vendor: str = ""


@dataclass(frozen=True)
class AppMention:
    """An app named (or referred to) in a sentence, with character offsets."""

    app: str  # canonical name; "" for a generic mention ("the app") to be resolved
    start: int
    end: int
    in_catalogue: bool = True
    generic: bool = False


@dataclass
class AppCatalogue:
    """Canonical apps and every name they go by."""

    apps: dict[str, AppInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, extra_file: str | Path | None = None) -> AppCatalogue:
        """The built-in catalogue, with `extra_file` (same format) merged over it."""
        catalogue = cls()
        catalogue.merge_file(BUILTIN_CATALOGUE)
        if extra_file:
            catalogue.merge_file(Path(extra_file))
        return catalogue

    @classmethod
    def from_entries(cls, entries: Iterable[AppInfo]) -> AppCatalogue:
        return cls({e.name: e for e in entries})

    def merge_file(self, path: Path) -> None:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("app catalogue file not found", path=str(path)) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"app catalogue is not valid TOML ({exc})", path=str(path)) from None
        for i, item in enumerate(raw.get("app", [])):
            name = item.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ConfigError("needs a non-empty name", path=str(path), key=f"app[{i}].name")
            self.apps[name] = AppInfo(
                name=name,
                aliases=tuple(item.get("aliases", ())),
                exact=tuple(item.get("exact", ())),
                kind=item.get("kind", "app"),
                vendor=item.get("vendor", ""),
            )
        self.__dict__.pop("_patterns", None)  # names changed: rebuild the regexes lazily

    def canonical(self, name: str) -> str | None:
        """The canonical name for any known name, case-insensitively (exact names exactly)."""
        lookup = self._patterns[2]
        return lookup.get(name) or lookup.get(name.casefold())

    @cached_property
    def _patterns(self) -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
        """One case-insensitive and one case-sensitive alternation, longest names first."""
        folded: dict[str, str] = {}
        exact: dict[str, str] = {}
        for info in self.apps.values():
            for n in info.exact:
                exact[n] = info.name
            for n in (info.name, *info.aliases):
                if n in info.exact:
                    continue
                folded[n.casefold()] = info.name
        lookup = {**folded, **{k: v for k, v in exact.items()}}

        def alternation(names: Iterable[str]) -> str:
            return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or "(?!)"

        loose = re.compile(rf"(?<![\w@#-])(?:{alternation(folded)})(?![\w-])", re.IGNORECASE)
        # "X" must not be "X-ray", "Line" not "Line of Control": exact names stand alone.
        strict = re.compile(rf"(?<![\w@#/-])(?:{alternation(exact)})(?![\w/]|-\w)")
        return loose, strict, lookup

    def find(self, sentence: str) -> list[AppMention]:
        """Catalogue apps, new apps named by pattern, and generic app nouns, in text order."""
        loose, strict, lookup = self._patterns
        found: list[AppMention] = []
        taken: list[tuple[int, int]] = []

        def free(s: int, e: int) -> bool:
            return all(e <= a or s >= b for a, b in taken)

        for m in loose.finditer(sentence):
            found.append(AppMention(lookup[m.group(0).casefold()], m.start(), m.end()))
            taken.append(m.span())
        for m in strict.finditer(sentence):
            if free(*m.span()) and not _x_is_letter(sentence, m):
                found.append(AppMention(lookup[m.group(0)], m.start(), m.end()))
                taken.append(m.span())
        for pattern in (_NAMED_AFTER_KIND, _NAMED_BEFORE_KIND):
            for m in pattern.finditer(sentence):
                name = _clean_name(m.group(1))
                s = m.start(1)
                if not name or not free(s, s + len(name)):
                    continue
                found.append(AppMention(name, s, s + len(name), in_catalogue=False))
                taken.append((s, s + len(name)))
        for m in _GENERIC.finditer(sentence):
            if free(*m.span()):
                found.append(AppMention("", m.start(), m.end(), in_catalogue=False, generic=True))
        found.sort(key=lambda a: a.start)
        return found


def name_near_action(clause: str, start: int, end: int) -> AppMention | None:
    """An unknown app named as the object of the action at clause[start:end], if any.

    The caller decides whether the article really is about an app (it calls it one).
    """
    from banwatch.enrich.actors import find_actors  # actors import nothing from here

    spans = [(_NAME_AFTER.match(clause[end:]), end)]
    if _BAN_NOUN.match(clause[start:end]):
        spans.append((_NAME_BEFORE.search(clause[:start]), 0))
    for m, offset in spans:
        if m is None:
            continue
        name = _clean_name(m.group("name"))
        if len(name) < 2 or find_actors(name) or name.lower() == name:
            continue
        if re.search(r"(?:'s|’s)\b", name):
            continue  # "Microsoft's AI assistant": the owner, not the app's name
        rest = clause[offset + m.start("name") + len(name) :]
        if name.endswith(("'s", "’s")) or _NOT_APP_AFTER.match(rest):
            continue  # "OpenAI's chatbot" (an owner), "Micron chips" (hardware)
        s = offset + m.start("name")
        return AppMention(name, s, s + len(name), in_catalogue=False)
    return None


def _x_is_letter(sentence: str, m: re.Match[str]) -> bool:
    """'X' as a letter ("Plan X", "X and Y", "Generation X") rather than the app."""
    if m.group(0) != "X":
        return False
    before = sentence[max(0, m.start() - 12) : m.start()].lower()
    return bool(re.search(r"(?:plan|generation|gen|type|model|article|factor)\s+$", before))


def _clean_name(raw: str) -> str:
    """Trim a pattern-captured name to its leading run of real name words."""
    words: list[str] = []
    for w in raw.split():
        if w in _NOT_NAMES or w.lower() in {"and", "or"}:
            break
        words.append(w.rstrip(".,;:"))
    name = " ".join(words).strip()
    if len(name) < 2 or name.isupper() and len(name) > 6:
        return ""
    return name


_DEFAULT: AppCatalogue | None = None


def default_catalogue() -> AppCatalogue:
    """The built-in catalogue, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = AppCatalogue.load()
    return _DEFAULT


def load_catalogue(extra_file: str | Path | None = None) -> AppCatalogue:
    """The catalogue the pipeline uses: built-in, plus `settings.detect.apps_file` if set."""
    return AppCatalogue.load(extra_file) if extra_file else default_catalogue()
