"""Normalised keys a customer is compared by when looking for duplicates.

Keys are derived, never stored in place of what the user entered: ``duplicate_keys`` gives
the columns to keep beside ``email_key`` on every write path.  They are pure functions of
the values (and, for the phone, of the tenant's default region), so a key computed by the
importer equals the one computed by the form or the API.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from data.duplicates.providers import PROVIDERS

DUPLICATE_KEYS: tuple[str, ...] = (
    "phone_key",
    "email_canon",
    "email_domain",
    "name_key",
    "address_key",
)

# --- phone -------------------------------------------------------------------------------

MIN_DIGITS = 7


def phone_key(phone: str | None, region: str | None = None) -> str | None:
    """The number in E.164 (``+491511234567``), else a digits-only fallback, else None.

    ``region`` is the tenant's default region (ISO 3166 alpha-2, "DE"): it reads national
    numbers (``0151 1234567``).  A number starting with ``+`` or ``00`` is read without it.
    A parse is accepted when the number has a possible length for its country; *validity*
    against the number-range metadata is not required, because ranges change and people
    type placeholder-like numbers: the parse has already resolved the country code and the
    trunk prefix, which is all equality needs.

    Fewer than seven digits (an extension, an internal number, "0", "123") or one digit
    repeated (``0000000``, ``999 9999 9999``) is no number: as keys, such placeholders
    would join thousands of unrelated customers, so they have none.

    Fallback: what does not parse (no or an unknown region, a wrong length) is compared by
    its digits, a leading ``00`` or ``+`` dropped so that ``+34 567..`` and ``0034 567..``
    agree.  A fallback key never starts with ``+``, so it cannot equal an E.164 key.
    """
    if not phone:
        return None
    digits = _digits(phone)
    if len(digits) < MIN_DIGITS or len(set(digits.lstrip("0"))) <= 1:
        return None
    parsed = _parse(phone, digits, region)
    if parsed is not None:
        return parsed
    international = phone.lstrip(" (").startswith("+")
    if not international and digits.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= MIN_DIGITS else None


# In ASCII text the decimal digits are 0-9: every other character is deleted.
_ASCII_NON_DIGITS = str.maketrans(dict.fromkeys(chr(c) for c in range(128) if not 48 <= c <= 57))


def _digits(text: str) -> str:
    """The decimal digits of ``text`` in any script (``٠١٢`` is ``012``), as ASCII."""
    if text.isascii():
        return text.translate(_ASCII_NON_DIGITS)
    found = (unicodedata.decimal(ch, None) for ch in text)
    return "".join(str(d) for d in found if d is not None)


def _parse(phone: str, digits: str, region: str | None) -> str | None:
    # Imported where a number is read (0.03-0.05 s of a start-up): an export, a page or
    # a command that writes no customer loads the data model, which knows these keys,
    # but never reads a phone.  Once loaded, the statement is a lookup in sys.modules.
    import phonenumbers

    attempts: list[tuple[str, str | None]] = []
    if phone.lstrip(" (").startswith("+"):
        # After a "+" the number names its country: the default region changes nothing
        # in the parse (checked for every region), so one attempt is the whole answer.
        attempts.append((phone, None))
    else:
        region = region.upper() if region else None
        if region in phonenumbers.SUPPORTED_REGIONS:
            attempts.append((phone, region))
        if digits.startswith("00"):
            attempts.append(("+" + digits[2:], None))
    for text, default_region in attempts:
        try:
            number = phonenumbers.parse(text, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


# --- email -------------------------------------------------------------------------------


def email_canonical(email: str) -> str:
    """The address that reaches the same mailbox, in lower case (see ``providers``).

    ``J.Gross+shop@GoogleMail.com`` → ``jgross@gmail.com``; a company address is only
    lower-cased.  Text without ``@`` is returned trimmed and lower-cased.
    """
    text = email.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return text
    domain = domain.rstrip(".")
    provider = PROVIDERS.get(domain)
    if provider is None:
        head, dot, parent = domain.partition(".")
        parent_provider = PROVIDERS.get(parent)
        if dot and head and parent_provider is not None and parent_provider.subdomain_addressing:
            local, provider = head, parent_provider
    if provider is None:
        return f"{local}@{domain}"
    if provider.tag_separator:
        local = local.split(provider.tag_separator, 1)[0] or local
    if provider.ignore_dots:
        local = local.replace(".", "") or local
    return f"{local}@{provider.domain}"


def email_domain(email: str | None) -> str | None:
    """The canonical domain of an address (``googlemail.com`` → ``gmail.com``), or None."""
    return _domain_of(email_canonical(email)) if email else None


def _domain_of(canonical: str) -> str | None:
    local, at, domain = canonical.rpartition("@")
    return domain if at and local and domain else None


# --- names and addresses -----------------------------------------------------------------

# Letters NFKD does not decompose (after casefold, which already turns ß and ẞ into "ss").
# Apostrophes vanish (O'Brien is OBrien), before NFKD turns ´ into a space and a mark.
_LETTERS = str.maketrans(
    {
        **{"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l"},
        **{"ı": "i", "ħ": "h"},
        **dict.fromkeys("'’ʼ`´", None),
    }
)
# German transliteration: ä/ö/ü are written ae/oe/ue.  After accents are stripped ü is u,
# so "ue" (and "uee", a typo's run) folds to u, likewise for a and o.  It matches letters
# only, never across the spaces between words: one substitution serves the whole text.
_UMLAUT_SPELLING = re.compile(r"([aou])e+")
# Marks are stripped from Latin, Greek and Cyrillic letters, whose accents people drop
# when they type without them; kept elsewhere (a kana voicing mark or a Devanagari vowel
# sign is part of the letter).
_STRIP_MARKS_BELOW = 0x0530

# In ASCII text, what ``fold_words`` keeps is exactly the letters and digits; the rest
# separates words.
_ASCII = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})

TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "herr", "frau", "mme", "mlle", "sir"})
LEGAL_FORMS = frozenset(
    {"gmbh", "ag", "kg", "ohg", "ltd", "inc", "llc", "plc", "corp", "sarl", "srl", "spa", "bv"}
)


def fold_words(text: str) -> list[str]:
    """The words of ``text``, case-folded, accents removed, umlaut spellings folded.

    ``Jürgen``, ``Juergen``, ``JURGEN`` and ``Jurgen`` all give ``jurgen``; ``Groß`` gives
    ``gross``.  The cost of folding ``ae/oe/ue`` wherever it occurs (it cannot be known
    whether an ``ue`` came from an umlaut) is that some distinct names meet —
    ``Michael``/``Michal``, ``Manuel``/``Manul``, ``Joel``/``Jol`` — which only ever makes
    a *candidate* pair, never a merge, and only with a second shared key.
    """
    folded = text.casefold().translate(_LETTERS)
    if folded.isascii():  # most names and addresses: no marks to strip, nothing to compose
        return _UMLAUT_SPELLING.sub(r"\1", folded.translate(_ASCII)).split()
    kept: list[str] = []
    base = 0
    # Compatibility forms may decompose into capitals (U+1F110 is "(A)"): fold again.
    decomposed = unicodedata.normalize("NFKD", folded).casefold().translate(_LETTERS)
    for ch in unicodedata.normalize("NFKD", decomposed):
        kind = unicodedata.category(ch)[0]
        if kind == "M":
            if base >= _STRIP_MARKS_BELOW:
                kept.append(ch)
            continue
        # A mark belongs to the letter before it: after punctuation (dropped) it goes too.
        base = ord(ch) if kind in "LN" else 0
        kept.append(ch if kind in "LN" else " ")
    plain = unicodedata.normalize("NFC", "".join(kept))
    return _UMLAUT_SPELLING.sub(r"\1", plain).split()


def name_key(name: str | None) -> str:
    """A name folded for comparison: ``Gross, Jürgen`` and ``Juergen GROSS`` → ``gross jurgen``.

    Case, accents, ``ß``/``ss``, umlaut spellings (see ``fold_words``) and punctuation are
    folded; apostrophes vanish (``O'Brien`` → ``obrien``), other punctuation separates
    words; titles (Dr, Frau) and legal forms (GmbH, Ltd) are dropped when another word
    remains; the words are sorted, so word order does not count.  Names in other scripts
    are case-folded and compared as written (no transliteration between scripts).
    """
    if not name:
        return ""
    words = fold_words(name)
    kept = [word for word in words if word not in TITLES and word not in LEGAL_FORMS]
    return " ".join(sorted(kept or words))


# Street words in one spelling each, keyed as ``fold_words`` leaves them ("straße" is
# "strasse" by then, and "avenue" is "avenu").
_STREET_WORDS = {
    _UMLAUT_SPELLING.sub(r"\1", word): short
    for word, short in {
        "strasse": "str",
        "street": "st",
        "avenue": "ave",
        "av": "ave",
        "road": "rd",
        "platz": "pl",
        "boulevard": "blvd",
        "drive": "dr",
        "lane": "ln",
        "square": "sq",
    }.items()
}
_STREET_SUFFIX = "strasse"


def address_key(address: str | None) -> str | None:
    """An address folded for equality, or None when empty.

    Folded as names are (case, accents, umlaut spellings, punctuation and line breaks);
    street words are abbreviated one way (``Hauptstraße``, ``Hauptstrasse`` and
    ``Hauptstr.`` → ``hauptstr``; ``Street``/``St.`` → ``st``); the words are sorted, so
    ``12 Main St`` equals ``Main Street 12``.  It does not parse addresses: a missing
    country or an added ``c/o`` line makes a different key.
    """
    if not address:
        return None
    words = []
    for word in fold_words(address):
        word = _STREET_WORDS.get(word, word)
        if word.endswith(_STREET_SUFFIX):
            word = word[: -len(_STREET_SUFFIX)] + "str"
        words.append(word)
    return " ".join(sorted(words)) or None


# --- the tenant's region -----------------------------------------------------------------


def parse_region(text: str | None) -> str | None:
    """A default phone region as stored: ``"de"`` → ``"DE"``; empty or ``none`` → None.

    Raises ``ValueError`` with a sentence for a code ``phonenumbers`` does not know
    (it knows the ISO 3166-1 alpha-2 codes of every numbering plan, and ``001``).
    """
    code = (text or "").strip().upper()
    if code in ("", "NONE", "-"):
        return None
    import phonenumbers  # see _parse

    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"{code!r} is not a region code; use a two-letter country code such as DE, "
            "AT, CH, FR, GB or US (or 'none')."
        )
    return code


# --- all keys ----------------------------------------------------------------------------

# Longest stored key, in characters.  Folding can lengthen text (ß → ss, a ligature or a
# compatibility character becomes several letters); capped, the largest index entry
# (tenant, address key, name key) stays under PostgreSQL's B-tree limit of 2,704 bytes
# even in four-byte characters.  Two keys cut at the cap compare by their first
# characters: enough for names and addresses of sensible length.
KEY_LIMITS: dict[str, int] = {
    "phone_key": 50,
    "email_canon": 254,
    "email_domain": 254,
    "name_key": 200,
    "address_key": 300,
}


def duplicate_keys(values: Mapping[str, str | None], region: str | None) -> dict[str, str | None]:
    """Every key in ``DUPLICATE_KEYS`` for a customer's values; None where a value is empty.

    ``region`` is the tenant's default phone region ("DE"), or None.  Each key is cut at
    its ``KEY_LIMITS``.
    """
    email = values.get("email")
    canonical = email_canonical(email) if email else None
    keys = {
        "phone_key": phone_key(values.get("phone"), region),
        "email_canon": canonical,
        "email_domain": _domain_of(canonical) if canonical else None,
        "name_key": name_key(values.get("name")) or None,
        "address_key": address_key(values.get("address")),
    }
    return {
        name: key[: KEY_LIMITS[name]].rstrip() or None if key is not None else None
        for name, key in keys.items()
    }
