"""Keyword patterns the detector reads sentences with, per rule family, in six languages.

English, German, French, Spanish, Italian and Portuguese. Each family is one compiled regex
(built once at import: they are small); the detector combines them with actor and app
mentions. Keep entries general (verbs and phrases news uses for any app and any government),
never wording copied from one article.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE


def _rx(*parts: str, flags: int = _I) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts), flags)


# --- action triggers -------------------------------------------------------------------------
BAN = _rx(
    # English verbs
    r"\b(?:ban|bans|banned|banning|bar|bars|barred|barring|block|blocks|blocked|blocking|"
    r"prohibit(?:s|ed|ing)?|forbid(?:s|den|ding)?|forbade|outlaw(?:s|ed|ing)?|"
    r"suspend(?:s|ed|ing)?|restrict(?:s|ed|ing)?|throttl(?:e|es|ed|ing)|"
    r"purg(?:e|es|ed|ing)|censor(?:s|ed)|blacklist(?:s|ed)?|delist(?:s|ed)?|"
    r"phas(?:e|es|ed|ing) out|shut(?:s|ting)?\b[^.]{0,25}?\b(?:down|off|out)\b|"
    r"cut(?:s|ting)? (?:off|access)|cut(?:s|ting)?(?= (?:off )?(?:access to )?[A-Z])|"
    r"pull(?:s|ed|ing)? the plug|pull(?:s|ed|ing)?\b[^.]{0,40}?\b(?:offline|off|from)|"
    r"knock(?:s|ed)?\b[^.]{0,30}?\boffline|tak(?:e|es|en|ing)\b[^.]{0,30}?\b(?:offline|down)|"
    r"(?:order(?:s|ed)?|direct(?:s|ed)?|tell(?:s)?|told|instruct(?:s|ed)?|advis(?:es|ed))\b"
    r"[^.]{0,60}?\b(?:remov(?:e|ed|al)|delet(?:e|ed)|uninstall(?:ed)?|blocked|shut|suspended|"
    r"taken down|off|not to (?:use|install|download)|to (?:avoid|stop) using|"
    r"to refrain from|to (?:drop|abandon|ditch|replace|swap)|d'abandonner|de (?:supprimer|"
    r"désinstaller|remplacer))\b|"
    r"(?:remov|wip|strip|purg)(?:e|es|ed|ing|s|ped|ping)?\b[^.]{0,40}?\bfrom "
    r"(?:(?:the|its|their|all) )?"
    r"(?:app stores|stores|government|official|state|"
    r"work|federal|its|their|all)|"
    r"halt(?:s|ed)?|go(?:es)? dark|went dark|off-limits|slow(?:s|ed)? down|"
    r"no longer (?:be )?(?:permitted|allowed)|"
    r"(?:stop|stops|cease|ceases|halt|halts) (?:using|processing|collecting)|"
    r"to (?:stop|cease|halt) (?:using|processing|collecting))\b",
    # English nouns
    r"\b(?:ban|block|blocking|suspension|prohibition|restriction|shutdown|blackout)\b",
    # German
    r"\b(?:verbiet\w*|verbot\w*|Verbot\w*|verbann\w*|sperr\w*|Sperr\w*|untersag\w*|blockier\w*|"
    r"Blockade|entfern\w*|aussetz\w*|auszusetzen|Aussetzung|abgeschaltet|abschalt\w*)\b",
    # French
    r"\b(?:interdi[rt]\w*|bann[iî]\w*|bloqu\w*|suspend\w*|suspension|interdiction|"
    r"restreint|coup\w* l'acc[eè]s)\b",
    # Spanish / Portuguese
    r"\b(?:proh[ií]b\w*|bloque\w*|veta\w*|vet[oó]|prohibici[oó]n|suspend\w*|"
    r"pro[ií]b\w*|bloqueio|bloqueia\w*|bane\w*|tirar do ar|tira do ar|fora do ar|"
    r"suspens[ãaiã]\w*|fren[ao]\w*)\b",
    # Italian
    r"\b(?:viet(?:a|are|ato|ata|ati|ate|ano|ando|o)|divieto|blocc\w*|sospe\w*|"
    r"stop (?:a|al|all'|alla|del|della|dal)|fermat\w*|limitazione|interromp\w*|"
    r"cessa(?:re|zione))\b",
)
LIFT = _rx(
    r"\b(?:lift(?:s|ed|ing)?|unblock(?:s|ed|ing)?|restor(?:e|es|ed|ing)|reinstat(?:e|es|ed)|"
    r"overturn(?:s|ed)?|str(?:ike|ikes|uck) down|revok(?:e|es|ed)|rescind(?:s|ed)?|"
    r"revers(?:e|es|ed|ing)\b[^.]{0,30}?\b(?:ban|block|order|decision|suspension)|"
    r"(?:is|are|was|comes?|came|goes|went|now) back|back (?:in|on|for|online)|"
    r"cleared to|approv\w* (?:the |its )?return|lets?\b[^.]{0,40}?\b(?:back|again|return|resume)|"
    r"re-?enabled?|resum(?:e|es|ed)|available\b[^.]{0,25}?\bagain|reprieve|"
    r"returns? to\b[^.]{0,30}?\bstores|relist(?:s|ed)|"
    # "returns in Pakistan", "returns to Nepal" (a place, not a chamber the bill goes back to)
    r"returns? (?:in|to) (?!(?:the|Senate|Congress|Parliament|House|Assembly|Court)\b)"
    r"(?-i:[A-Z])\w+|"
    r"(?:secur|grant|won|win|issu|obtain)\w* an? (?:interim )?stay|"
    r"stays? (?:of|on) the (?:ban|block)|"
    r"allow(?:s|ed)?\b[^.]{0,40}?"
    r"\b(?:unblocked|return|back)|"
    r"(?:ends?|ended|halts?|halted|block(?:s|ed)?|suspend(?:s|ed)?|withdr[ae]w(?:s|n)?|"
    r"quash(?:es|ed)?|annul(?:s|led)?|drop(?:s|ped)?|scrap(?:s|ped)?|repeal(?:s|ed)?|"
    r"cancel(?:s|led|ed)?|abandon(?:s|ed)?|sets? aside|setting aside)\b[^.]{0,40}?"
    r"\b(?:ban|block|suspension|order|"
    r"penalty|prohibition|demand to (?:restrict|block|ban))|"
    r"(?:ban|block|suspension)\b[^.]{0,25}?\b(?:ends|ended|lapses?|unconstitutional|"
    r"unlawful|illegal|halted|overturned|struck down|quashed|revoked|lifted))\b",
    r"\b(?:aufgehoben|hebt\b[^.]{0,40}\bauf|entsperrt|wieder (?:verfügbar|erreichbar|"
    r"zugänglich)|l[eè]v\w* (?:l'|la )?(?:interdiction|blocage|suspension)|levée|r[ée]tabli\w*|"
    r"de nouveau (?:disponible|accessible)|"
    r"levant\w*|levanta\w*|restablec\w*|"
    r"de nuevo disponible|revoca\w*|torna(?:to)? disponibile|riattiv\w*|sblocc\w*|"
    r"di nuovo disponibile|volta a funcionar|voltou|restabelec\w*|libera\w*|desbloque\w*|"
    r"revog\w*|derrub\w*|anula\w*|"
    r"autoriz\w* o retorno|retorno d[oa])\b",
)
PROPOSE = _rx(
    r"\b(?:bill|bills|draft law|legislation that would|proposals?|propos(?:e|es|ed|ing)|"
    r"plan(?:s|ned)? to|planning to|consider(?:s|ed|ing)?|weigh(?:s|ed|ing)?|mull(?:s|ed|ing)?|"
    r"threat(?:en|ens|ened)|moves? to(?:wards?)?|moving to|seeks? to|pushes to|"
    r"float(?:s|ed|ing)|backs|backed|endors(?:es|ed)|"
    r"(?:lawmakers|legislators|legislature|senate|house|assembly) (?:pass|passes|passed|"
    r"approv\w*|vot\w*)|go further|extend(?:ing)? (?:the|its) ban|"
    r"heads? to (?:the )?governor|awaits? (?:the )?governor|discourag(?:e|es|ed|ing))\b",
    r"\b(?:intends? to|intention to|aims? to)\b",
    r"\b(?:Gesetzentwurf|erwäg\w*|plant|prüft|droht|drohen|will\b[^.]{0,60}?\blassen|"
    r"envisag\w*|projet de loi|propos\w*|"
    r"proyecto de ley|planea\w*|estudia|disegno di legge|valuta\w*|ipotesi|"
    r"projeto de lei|planeja\w*|estuda)\b",
)
# Proposal cues that headlines also use for a step actually taken ("X moves to block Y" over a
# lead saying the regulator ordered the block): the lead's definite action wins over these.
WEAK_PROPOSE = re.compile(r"\b(?:moves? to|moving to)\b", re.IGNORECASE)
# Restoring a ban rather than the app ("reinstates the nationwide block", "restores the ban").
REIMPOSE = re.compile(
    r"(?:reinstat|restor|resum|reimpos|re-impos)\w*\s+"
    r"(?:(?!access|service|after|following|once|until|to\b|for\b)[\w-]+\s+){0,3}?"
    r"(?:ban|block|blocking|restrictions?|prohibition|suspension|Verbot|Sperre|interdiction|"
    r"blocage|bloqueo|prohibición|divieto|blocco|bloqueio|proibição)\b",
    re.IGNORECASE,
)
# A lifting only sought, conditioned or planned ("seeks to restore", "conditions for lifting").
LIFT_NOT_YET = re.compile(
    r"\b(?:to|for|seek\w*|could|would|may|might|until|before|conditions|talks|bid|hopes?|"
    r"wants?|plans?)\s+(?:\w+\s+){0,1}$",
    re.IGNORECASE,
)
# ... unless someone with the power grants it: "the court authorised X to resume".
LIFT_GRANTED = re.compile(
    r"\b(?:authori[sz]\w*|allow\w*|permit\w*|let|lets|clear\w*|order\w*|tell\w*|told)\s+"
    r"(?:\S+\s+){0,4}?to\s+(?:\w+\s+){0,1}$",
    re.IGNORECASE,
)
# A bill or law that is signed or enacted is no longer a proposal.
ENACTED = re.compile(
    r"\b(?:signs?|signed|signing|enact\w*|promulgat\w*|into law|comes? into force|"
    r"took effect|takes effect|unterzeichn\w*|promulgu\w*|sancion\w*|firm\w*)\b",
    re.IGNORECASE,
)
STILL_BLOCKED = re.compile(
    r"\b(?:stays?|remains?|still|keeps?|kept|continues? to be)\b[^.]{0,25}?"
    r"\b(?:blocked|banned|offline|off|switched off|suspended|restricted)\b",
    re.IGNORECASE,
)
# The whole article is commentary or a round-up: nothing in it is news.
ARTICLE_NOT_NEWS = re.compile(
    r"\b(?:opinion|op-ed|columnist|editorial|this (?:analysis|explainer|guide|review|column)|"
    r"explainer|country-by-country|state-by-state|timeline|looks back|we trace|"
    r"where (?:next|things stand)|who has (?:restricted|banned|acted|blocked))",
    re.IGNORECASE,
)
# A headline looking back ("Five years after the TikTok ban, ..."): an anniversary piece. Only
# the headline: in a lead, "nine months after it was blocked" dates the new step.
RETROSPECTIVE_HEADLINE = re.compile(
    r"^(?:(?:two|three|four|five|six|seven|eight|nine|ten|\d+) (?:years|months) "
    r"(?:of|after|on|since)\b|a (?:year|decade) (?:after|of|on|since)\b|"
    # an opinion or analysis label: "Commento: ...", "Opinion | ..."
    r"(?:un|una|uno|um|uma|ein|eine|one|dos|due|zwei|deux|two|tres|tre|três|drei|trois|"
    r"cinco|cinque|fünf|cinq|diez|dieci|dez|zehn|dix|\d+) (?:años?|anni|anno|anos?|Jahre?n?|"
    r"ans?|années?|mes(?:es)?|mesi|meses|Monate?n?|mois) (?:de|del|do|da|dos|das|di|dal|"
    r"della|seit|nach|après|depuis|du|des|desde|após|dopo)\b|"
    r"how (?:governments|countries|states|regulators|the world)|the year (?:governments|"
    r"that|of)|"
    r"(?:opinion|comment|analysis|editorial|column|commento|editoriale|kommentar|meinung|"
    r"analyse|tribune|éditorial|opinión|tribuna|opinião|artigo)\s*[:|])",
    re.IGNORECASE,
)
# The ban is asked for, argued for or denied, not ordered: no event from this sentence.
CALL = _rx(
    r"\b(?:should|ought to|must ban|urg(?:e|es|ed|ing)|call(?:s|ed|ing)? for|"
    r"call(?:s|ed|ing)? on\b[^.]{0,40}?\bto\b|press(?:es|ed|ing)? for|push(?:es|ed|ing)? for|"
    r"opposition|"
    r"ask(?:s|ed|ing)?|demand(?:ed|ing)?\b|demands? (?:that|for|a ban)|petition(?:s|ed)?|"
    r"appeal(?:s|ed)? to|"
    r"lobb(?:y|ies|ied)|campaign(?:s|ers|ing)?|argu(?:e|es|ed|ing)|opinion|columnist|"
    r"editorial|time to ban|wants? to ban|warn(?:s|ed|ing)?|final warning|"
    r"would not advise|will not ban|won't ban|rul(?:e|es|ed) out|refus(?:e|es|ed) to)\b",
    r"\b(?:fordert|fordern|sollte|warnt|appelle|demande|réclame|debería|pide|piden|"
    r"chiede|chiedono|dovrebbe|pede|pedem|deveria)\b",
)
NEGATION = _rx(
    r"\b(?:not|no|never|nor|without|none|n't|neither|nicht|kein\w*|pas|jamais|sans|"
    r"non|nessun\w*|ningún|ninguna|nunca|sem|nenhum\w*)\b"
)

# --- scope -----------------------------------------------------------------------------------
GOV_DEVICES = _rx(
    r"\b(?:government|state|official|work|federal|public[- ]sector|public service|"
    r"service|staff|corporate|office|agency|department|ministerial|state-owned|"
    r"state-issued|government-issued|government-owned|issued|parliamentary|military|"
    r"employees'|officials'|civil servants'|councils?'?)\s+(?:(?!for\b|of\b|to\b)\w+\s+)?"
    r"(?:phones?|devices?|smartphones?|mobiles?|laptops?|computers?|equipment|"
    r"networks?|systems?|wi-?fi|handsets?|tablets?|(?-i:IT))\b",
    r"\b(?:civil servants?|public servants?|government employees|state employees|"
    r"state workers|federal employees|public employees|lawmakers' devices|"
    r"public administration|government agencies|state agencies|federal agencies|"
    r"government networks?|state networks?|"
    r"(?:its|their) (?:own )?(?:\w+ and )?(?:networks?|devices|phones|systems|wi-?fi|computers)|"
    r"(?:in|from|across|throughout) (?:the )?(?:central|national|federal|state) government|"
    r"(?:ministers|officials|civil servants|staff|employees|soldiers|troops|MPs|lawmakers)"
    r"(?: and their \w+)? (?:are |were |have been |being )?(?:told|ordered|instructed|asked|"
    r"barred|banned|forbidden)|"
    r"devices? (?:it|they|the government|the state) (?:issues?|provides?|supplies)|"
    r"devices? (?:issued|provided|supplied) (?:to|by) (?:its |the )?(?:staff|officials|ministers|"
    r"employees|government))\b",
    r"\b(?:bar|bars|barred|ban|bans|banned|for|from|orders?|ordered|tells?|told|direct\w*|"
    r"requir\w+|instruct\w*|on|by)\s+(?:all\s+|its\s+|the\s+|government\s+|state\s+)?"
    r"(?:ministers|officials|agencies|staff|employees|civil servants|MPs|lawmakers)\b",
    r"\b(?:Dienst(?:geräte\w*|handys?|telefon\w*|smartphones?|laptops?)|dienstlich\w*|"
    r"Beamte\w*|Behörden|Bundesbehörden|Mitarbeiter\w*|"
    r"t[ée]l[ée]phones? (?:professionnels?|de service|du gouvernement|gouvernementaux)|"
    r"appareils? (?:professionnels?|de service|gouvernementaux)|cellulaires du gouvernement|"
    r"appareils? (?:mobiles )?(?:du gouvernement|de l'[ÉE]tat|fédéraux|qu'il fournit|fournis)|"
    r"(?:à|aux) (?:ses |leurs )?(?:employés|fonctionnaires|agents)|"
    r"fonctionnaires|agents (?:publics|de l'[ÉE]tat)|(?:l'|les |aux )administrations?|"
    r"dispositivos (?:oficiales|gubernamentales|del gobierno|oficiais|do governo)|"
    r"funcionarios|funcionários|servidores públicos|celulares do governo|"
    r"teléfonos (?:oficiales|del gobierno)|dispositivi (?:di servizio|governativi|aziendali)|"
    r"dipendenti pubblici|pubblica amministrazione|smartphone di servizio)\b",
)
OTHER_SCOPE = _rx(
    r"\b(?:process(?:ing)?\b[^.]{0,30}?\bdata|data processing|using\b[^.]{0,20}?\bdata|"
    r"(?:under|below|younger than)[- ](?:1[0-9])s?|under-1[0-9]s|minors|age (?:limit|verification|"
    r"checks?|ban)|social media ban for|throttl\w*|slow(?:s|ed|ing)? (?:down)?|slowdown|"
    r"advertis\w*|campus|students|schools?|"
    r"(?:voice|video|phone|audio|internet) call(?:s|ing)|calls (?:over|on|via|through)|calling|"
    r"VoIP|\bads\b|ad targeting|profiling|behaviou?ral advertising|features?|rewards?|"
    r"programmes?|functions?|"
    r"(?:suspen\w*|halt\w*|paus\w*)\b[^.]{0,20}?\bnew downloads|new downloads|"
    r"(?:sospe\w*|suspen\w*|aussetz\w*|ausgesetzt)\b[^.]{0,20}?\b(?:i |dei |der |des |de )?"
    r"(?:nuovi |neue[rn]? |nouveaux |nuevas |novos )?(?:download|Downloads|téléchargements|"
    r"descargas)|"
    r"data collection|(?:iris|eyeball)[- ]scann\w*|biometric|"
    r"Digital Services Act|DSA|interim measures)\b",
    r"\b(?:trattamento (?:dei|di) dati|limitazione (?:provvisoria )?del trattamento|"
    r"Datenverarbeitung|\w+-Daten|\w*[Dd]aten\b[^.]{0,30}?\bverarbeit\w*|"
    r"traitement des données|tratamiento de datos|"
    r"tratamento de dados|minori|Minderjährige|mineurs|"
    r"(?:Sprach|Video)?[Aa]nrufe|Funktion\w*|Belohnungsprogramm\w*|appels|chiamate|llamadas|"
    r"chamadas|Gesetz über digitale Dienste)\b",
)
NATIONWIDE = _rx(
    r"\b(?:nationwide|countrywide|statewide|across the country|outright|for (?:all )?users|"
    r"app stores?|play store|from stores|internet (?:providers|service providers)|"
    r"(?:telecoms?|telecommunications?|mobile|network|internet|broadband) "
    r"(?:operators|providers|companies|firms|carriers)|"
    r"whole country|entire country|in the country|everyone|the public)\b",
    r"\b(?:landesweit|bundesweit|dans tout le pays|en todo el país|in tutto il paese|"
    r"em todo o país|todo o país|todo el país|en todo su territorio)\b",
)

# A step of a sub-national government ("statewide", "the governor signed"): with no place named
# in the sentence, the actor is the sub-national unit the article is about.
SUBNATIONAL_CUE = _rx(
    r"\b(?:statewide|state-wide|province-wide|provincewide|governor|state legislature|"
    r"state (?:law|lawmakers|legislators|senate|house)|provincial|premier)\b"
)

# --- not a government action on an app -------------------------------------------------------
COMPANY = _rx(
    r"\b(?:compan(?:y|ies)|firms?|banks?|lenders?|insurers?|employers?|businesses|retailers?|"
    r"airlines?|law firms?|football clubs?|hospitals?|"
    r"corporations?|universit(?:y|ies)|college|schools?|school district|"
    r"company-owned|company phones?|corporate customers)\b",
)
# Words that make a sentence's ban a thing other than an app being restricted.
NOT_APP_OBJECT = _rx(
    r"\b(?:accounts?|posts?|tweets|content|advertis\w*|ads|channels?|videos?|users?|"
    r"chips?|phones in|mobile phones|cell ?phones|smartphones in|"
    r"téléphones? portables?|handys? in|cellulari|celulares en)\b",
)

# --- background and time ---------------------------------------------------------------------
BACKGROUND = _rx(
    r"\b(?:already|previously|earlier this (?:year|month)|last year|years? ago|months ago|"
    r"similar (?:action|move|moves|measures|bans|steps|restrictions)|"
    r"(?:has|have) (?:taken|imposed) similar|in the past|had (?:been )?(?:banned|blocked|"
    r"barred|restricted|suspended|lifted|ordered|imposed|stopped|fermato)|"
    r"follow(?:s|ed|ing)? (?:the |a |similar )|followed suit|since (?:19|20)\d\d|"
    r"was banned in (?:19|20)\d\d|in (?:19|20)\d\d|neighbou?ring|like (?:the|other)|"
    r"as (?:\w+ ){0,3}did|other (?:countries|states|governments))\b",
    r"\b(?:bereits|schon|zuvor|déjà|auparavant|ya|anteriormente|già|in precedenza|já)\b",
)
# Time phrases that name when a ban takes effect or ends, not when it was announced.
EFFECT_TIME = _rx(
    r"\b(?:from|until|till|by|starting|effective|through|before|à partir du|jusqu'au|"
    r"ab dem|ab|bis|hasta|desde|a partir del?|fino al|entro il|da|a partire da|até)\s+$"
)
ALSO = _rx(r"\b(?:also|too|as well|joins?|joined|auch|aussi|también|anche|também)\b")
MODAL = re.compile(
    r"\b(?:could|may|might|Could|May|Might)\s+(?:\w+\s+)?(?:ban|block|bar|"
    r"prohibit|restrict|go|extend|outlaw|remove)\b"
)
HEADLINE_QUESTION = re.compile(r"\?\s*$")
