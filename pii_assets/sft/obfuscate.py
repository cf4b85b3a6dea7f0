"""How a value or a snippet is disguised: obfuscations, multilingual wrappers, log and pixel lines.

Obfuscations rewrite a PII value the way people and systems hide or mangle it (``spaced``,
``dashed``, ``wordified`` digits in the text's language, ``url_encoded``, ``email_words``
"name at domain dot com"). Wrappers put a short phrase in some language around a snippet
("Bitte prüfen: ...", "Message transféré : ..."). Log and pixel lines carry a value as a field of
an application log or as a query parameter of a tracking-pixel request. All of it is data plus a
few pure functions of ``(value, rng)``.
"""

from __future__ import annotations

import importlib
import random
import re
from functools import lru_cache
from urllib.parse import quote

LANGUAGES = ("en", "de", "fr", "es", "nl", "it")

DIGIT_WORDS = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "plus"),
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "plus"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "plus"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "más"),
    "nl": ("nul", "een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen", "plus"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "più"),
}
"""Digit words 0-9 and the word for a leading ``+``, per language."""

AT_DOT = {
    "en": (("at", "dot"), ("[at]", "[dot]"), ("(at)", "(dot)")),
    "de": (("at", "punkt"), ("(at)", "(punkt)"), ("[at]", "[dot]")),
    "fr": (("arobase", "point"), ("[at]", "[point]"), ("(at)", "(dot)")),
    "es": (("arroba", "punto"), ("[arroba]", "[punto]"), ("(at)", "(dot)")),
    "nl": (("apenstaartje", "punt"), ("(at)", "(punt)"), ("[at]", "[dot]")),
    "it": (("chiocciola", "punto"), ("[at]", "[punto]"), ("(at)", "(dot)")),
}

WRAPPERS = {
    "en": ("Please check:", "Forwarded message:", "Customer wrote:", "Quoted from the ticket:"),
    "de": ("Bitte prüfen:", "Weitergeleitete Nachricht:", "Kunde schreibt:", "Auszug aus dem Ticket:"),
    "fr": ("Merci de vérifier :", "Message transféré :", "Le client écrit :", "Extrait du ticket :"),
    "es": ("Por favor, revisa:", "Mensaje reenviado:", "El cliente escribe:", "Extracto del ticket:"),
    "nl": ("Graag controleren:", "Doorgestuurd bericht:", "Klant schrijft:", "Uit het ticket:"),
    "it": ("Per favore verifica:", "Messaggio inoltrato:", "Il cliente scrive:", "Estratto dal ticket:"),
}

OBFUSCATIONS = ("spaced", "dashed", "wordified", "url_encoded", "email_words")
HOW = {
    "spaced": "with its characters spaced out",
    "dashed": "with dashes between its characters",
    "wordified": "with its digits spelled out as words",
    "url_encoded": "URL-encoded",
    "email_words": "with '@' and '.' written as words",
}
"""How each obfuscation is named in explanations."""

_EMAIL = re.compile(r"([^@\s]+)@([^@\s]+\.[A-Za-z]{2,})")
_SERVICES = ("checkout", "auth", "crm-sync", "billing", "signup", "profile-api", "mailer", "support-desk")
_LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN")
_PIXELS = ("px.gif", "t.gif", "collect", "pixel.png", "i/open.gif")


def digit_count(value: str) -> int:
    return sum(c.isdigit() for c in value)


def applicable(value: str) -> list[str]:
    """The obfuscations that change ``value`` meaningfully, in ``OBFUSCATIONS`` order."""
    kinds = []
    compact = [c for c in value if not c.isspace()]
    if 3 <= len(compact) <= 40:
        kinds.append("spaced")
    alnum = sum(c.isalnum() for c in value)
    if 5 <= alnum <= 40:
        kinds.append("dashed")
    if digit_count(value) >= 3:
        kinds.append("wordified")
    if quote(value, safe="") != value:
        kinds.append("url_encoded")
    if _EMAIL.fullmatch(value):
        kinds.append("email_words")
    return kinds


def obfuscate(kind: str, value: str, language: str, rng: random.Random) -> str:
    if kind == "spaced":
        return " ".join(c for c in value if not c.isspace())
    if kind == "dashed":
        alnum = [c for c in value if c.isalnum()]
        if digit_count(value) >= len(alnum) * 0.6:  # a number: groups of 2-4, dashed
            size = rng.choice((2, 3, 4))
            return "-".join("".join(alnum[i:i + size]) for i in range(0, len(alnum), size))
        return "-".join(alnum)
    if kind == "wordified":
        words = DIGIT_WORDS.get(language, DIGIT_WORDS["en"])
        out = []
        for i, c in enumerate(value):
            if c.isdigit():
                out.append(words[int(c)])
            elif c == "+" and i == 0:
                out.append(words[10])
            elif c.isalpha():
                out.append(c)
        return " ".join(out)
    if kind == "url_encoded":
        return quote(value, safe="")
    if kind == "email_words":
        at, dot = rng.choice(AT_DOT.get(language, AT_DOT["en"]))
        local, domain = _EMAIL.fullmatch(value).groups()
        return f" {dot} ".join(local.split(".")) + f" {at} " + f" {dot} ".join(domain.split("."))
    raise ValueError(f"unknown obfuscation {kind!r}")


FRAMES = {
    "en": ("{Noun}: {value}", "{Noun} {value}", "Please quote the {noun} {value} in any reply.",
           "Checked again ({noun} {value})."),
    "de": ("{Noun}: {value}", "{Noun} {value}", "Bitte bei Rückfragen angeben – {Noun}: {value}.",
           "Angabe geprüft ({Noun} {value})."),
    "fr": ("{Noun} : {value}", "{Noun} {value}", "Merci de rappeler la référence suivante – {noun} : {value}.",
           "Vérification effectuée ({noun} {value})."),
    "es": ("{Noun}: {value}", "{Noun} {value}", "Indique el siguiente dato en su respuesta – {noun}: {value}.",
           "Dato comprobado ({noun} {value})."),
    "nl": ("{Noun}: {value}", "{Noun} {value}", "Vermeld bij vragen het volgende – {noun}: {value}.",
           "Gegevens gecontroleerd ({noun} {value})."),
    "it": ("{Noun}: {value}", "{Noun} {value}", "Indichi il seguente dato nella risposta – {noun}: {value}.",
           "Dato verificato ({noun} {value})."),
}


@lru_cache(maxsize=None)
def _label_phrases(language: str) -> dict[str, list[str]]:
    try:
        return importlib.import_module(f"pii_assets.generator.templates.{language}").LABEL_PHRASES
    except ModuleNotFoundError:
        return {}


def field_nouns(label_name: str, field_name: str, language: str) -> list[str]:
    """How forms in ``language`` name the field of a label (the generator's LABEL_PHRASES)."""
    return list(_label_phrases(language).get(label_name) or [field_name or label_name.title()])


def field_phrase(noun: str, value: str, language: str, rng: random.Random) -> str:
    """``value`` in a short field phrase of ``language`` ("Gutscheincode: SAVE20", "Please quote
    the order number ... in any reply.")."""
    frame = rng.choice(FRAMES.get(language, FRAMES["en"]))
    first = noun.split(" ", 1)[0]
    lower = noun if language == "de" or (len(first) > 1 and first.isupper()) else noun[:1].lower() + noun[1:]
    return frame.format(noun=lower, Noun=noun[:1].upper() + noun[1:], value=value)


def wrap(content: str, language: str, rng: random.Random) -> str:
    prefix = rng.choice(WRAPPERS[language])
    style = rng.random()
    if style < 0.45:
        return f"{prefix} {content}"
    if style < 0.8:
        return f"{prefix}\n{content}"
    return f'{prefix} "{content}"'


def field_key(name: str) -> str:
    """``Driver's license number`` -> ``drivers_license_number`` (log field / query parameter)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower().replace("'", "")).strip("_") or "value"


def _iso_ts(rng: random.Random) -> str:
    return (f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z")


def log_line(key: str, value: str, rng: random.Random) -> str:
    """``2026-03-01T10:22:11Z INFO checkout user_phone=+4915... request_id=4f1c09ab``."""
    shown = f'"{value}"' if any(c.isspace() for c in value) else value
    extra = rng.choice((f" request_id={rng.getrandbits(32):08x}", f" latency_ms={rng.randint(3, 900)}", ""))
    return f"{_iso_ts(rng)} {rng.choice(_LEVELS)} {rng.choice(_SERVICES)} {key}={shown}{extra}"


def pixel_line(key: str, value: str, rng: random.Random) -> str:
    """An access-log line of a tracking-pixel request carrying ``value`` URL-encoded."""
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    ts = (f"{rng.randint(1, 28):02d}/{rng.choice(month)}/2026:{rng.randint(0, 23):02d}:"
          f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d} +0000")
    params = [f"{key}={quote(value, safe='')}", f"uid={rng.getrandbits(40):010x}",
              f"cb={rng.randint(10**8, 10**9)}"]
    rng.shuffle(params)
    ip = f"203.0.113.{rng.randint(1, 254)}"  # TEST-NET-3 (RFC 5737): a documentation address
    return (f'{ip} - - [{ts}] "GET /{rng.choice(_PIXELS)}?{"&".join(params)} HTTP/1.1" 200 43 '
            f'"-" "Mozilla/5.0"')
