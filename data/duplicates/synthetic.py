"""Synthetic customers with planted duplicates: what the finder's tests and bench measure.

Names come from ``data.sample`` (many scripts, 15 % companies).  The other fields are made
here, because sample's suit uniqueness and import tests, not duplicate finding: its emails
spread everyone over eight shared domains (in effect one free-mail provider) and its
phones are random digits.  Here, as in a real list, half the emails are at free-mail
providers and half at company domains of skewed sizes (a few large, many small); phones
are German mobiles and landlines or other countries' numbers; addresses are many streets.

A planted duplicate re-enters an original as another system or person would: the name
transliterated (Jürgen → Juergen), stripped of accents, upper-cased, turned round
("Gross, Jürgen"), mistyped or titled; the email the same Gmail/Outlook mailbox written
differently, another address at the same domain, or a new free-mail address; the phone
in another format, another number or left out; the address abbreviated, re-cased,
broken over lines or left out.  Some duplicates keep nothing but a similar name, which no
rule should accept, so recall has a ceiling below 1 by design (about 0.9).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from data.sample import STREETS, customer

FREE_MAIL = (
    ("gmail.com", 35),
    ("web.de", 12),
    ("gmx.de", 12),
    ("outlook.com", 10),
    ("hotmail.com", 8),
    ("yahoo.com", 8),
    ("icloud.com", 8),
    ("t-online.de", 7),
)
_FREE_DOMAINS = [domain for domain, _ in FREE_MAIL]
_FREE_WEIGHTS = [weight for _, weight in FREE_MAIL]
_PLUS_DOMAINS = frozenset({"gmail.com", "outlook.com", "hotmail.com", "icloud.com"})
_MOBILE = ("151", "152", "157", "160", "162", "163", "170", "171", "172", "175", "176", "177")
_AREAS = ("30", "40", "89", "69", "221", "711", "211", "341")
# fmt: off
_STREET_BASES = (
    "Linden", "Berg", "Schiller", "Goethe", "Bahnhof", "Kirch", "Garten", "Wald", "Schul",
    "Mühlen", "Feld", "Wiesen", "Rosen", "Birken", "Eichen", "Kastanien", "Ahorn", "Tannen",
    "Buchen", "Blumen", "Sonnen", "Park", "Markt", "Dorf", "Brunnen", "Burg", "Schloss",
    "Hafen", "Friedrich", "Wilhelm", "Luisen", "Beethoven", "Mozart", "Uhland", "Lessing",
    "Herder", "Kant", "Hegel", "Königs", "Oak", "Maple", "Cedar", "Elm", "Pine", "Hill",
    "Lake", "River", "Station", "Church", "Mill", "Bridge",
)
# fmt: on
_DE_KINDS = ("straße", "weg", "allee", "ring")
_EN_KINDS = ("Street", "Road", "Avenue", "Lane")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_ASCII = str.maketrans({"ß": "ss", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "ı": "i"})


@dataclass(frozen=True, slots=True)
class SyntheticCustomer:
    """One generated customer; ``duplicate_of`` names the original of a planted duplicate."""

    id: str
    values: dict[str, str | None]
    duplicate_of: str | None = None


def synthetic_customers(
    count: int, *, duplicate_rate: float = 0.06, seed: int = 7
) -> Iterator[SyntheticCustomer]:
    """``count`` originals, each followed by a planted duplicate with ``duplicate_rate``.

    Streams (constant memory); the same seed gives the same customers.  Phones are meant
    for the default region "DE".
    """
    rng = random.Random(seed)
    companies = max(10, count // 8)
    for index in range(count):
        original = SyntheticCustomer(f"c{index:07d}", _original(index, rng, companies))
        yield original
        if rng.random() < duplicate_rate:
            values = _duplicate(original.values, rng)
            yield SyntheticCustomer(f"d{index:07d}", values, duplicate_of=original.id)


def planted_pairs(customers: Iterable[SyntheticCustomer]) -> set[tuple[str, str]]:
    """The known duplicate pairs, each as ``(smaller id, larger id)``."""
    return {
        (min(c.id, c.duplicate_of), max(c.id, c.duplicate_of))
        for c in customers
        if c.duplicate_of is not None
    }


# --- originals ---------------------------------------------------------------------------


def _original(index: int, rng: random.Random, companies: int) -> dict[str, str | None]:
    name = customer(index, rng)["name"] or "Customer"
    words = [_ascii_word(word) for word in name.split()]
    first, last = words[0] or "c", words[-1] or "x"
    pattern = rng.choice(("{f}.{l}", "{f}{l}", "{i}.{l}", "{i}{l}", "{l}.{f}"))
    # (a word of the name may end in a dot: "Co."; an address has no ".." and no "." first)
    local = re.sub(r"\.{2,}", ".", pattern.format(f=first, l=last, i=first[0])).strip(".")
    local += str(index)
    if rng.random() < 0.5:
        domain = rng.choices(_FREE_DOMAINS, _FREE_WEIGHTS)[0]
    else:  # skewed: the first domains hold many customers, most domains a few
        rank = int(companies * rng.random() ** 2.5)
        domain = f"{_STREET_BASES[rank % len(_STREET_BASES)].lower()}-{rank}.example.com"
    return {
        "name": name,
        "email": f"{local}@{_ascii_word(domain)}",
        "phone": _phone(rng),
        "address": _address(rng),
    }


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.translate(_ASCII)).lower()
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch in ".-"))


def _phone(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.15:
        return None
    if roll < 0.55:
        area, subscriber = rng.choice(_MOBILE), str(rng.randint(10**7, 10**8 - 1))
    elif roll < 0.7:
        area, subscriber = rng.choice(_AREAS), str(rng.randint(10**6, 10**8 - 1))
    else:  # as data.sample writes them: some other country, often not a valid number
        return f"+{rng.randint(1, 89)} {rng.randint(100, 999)} {rng.randint(100000, 9999999)}"
    if rng.random() < 0.3:
        return f"0{area} {subscriber}"
    return f"+49 {area} {subscriber}"


def _address(rng: random.Random) -> str | None:
    if rng.random() < 0.3:
        return None
    _, city, postcode, country = rng.choice(STREETS)
    base = rng.choice(_STREET_BASES)
    if country == "Germany":
        street = f"{base}{rng.choice(_DE_KINDS)}"
    else:
        street = f"{base} {rng.choice(_EN_KINDS)}"
    number = rng.randint(1, 999)
    separator = "\n" if rng.random() < 0.25 else ", "
    return separator.join((f"{street} {number}", f"{postcode} {city}", country))


# --- duplicates --------------------------------------------------------------------------


def _duplicate(values: dict[str, str | None], rng: random.Random) -> dict[str, str | None]:
    return {
        "name": _vary_name(values["name"] or "", rng),
        "email": _vary_email(values["email"] or "", rng),
        "phone": _vary_phone(values["phone"], rng),
        "address": _vary_address(values["address"], rng),
    }


def _vary_name(name: str, rng: random.Random) -> str:
    roll = rng.random()
    words = name.split()
    if roll < 0.2:
        return name
    if roll < 0.35:
        return name.translate(_UMLAUTS).replace("ß", "ss")
    if roll < 0.5:
        stripped = unicodedata.normalize("NFKD", name.translate(_ASCII))
        return "".join(ch for ch in stripped if not unicodedata.combining(ch))
    if roll < 0.6:
        return name.upper()
    if roll < 0.75 and len(words) > 1:
        return f"{' '.join(words[1:])}, {words[0]}"
    if roll < 0.95:
        longest = max(range(len(words)), key=lambda i: len(words[i]))
        if len(words[longest]) >= 4:
            words[longest] = _typo(words[longest], rng)
        return " ".join(words)
    return f"Dr. {name}"


def _typo(word: str, rng: random.Random) -> str:
    at = rng.randrange(1, len(word) - 1)
    match rng.randrange(4):
        case 0:  # a wrong letter
            return word[:at] + rng.choice("aeinrst") + word[at + 1 :]
        case 1:  # a letter left out
            return word[:at] + word[at + 1 :]
        case 2:  # two letters swapped
            return word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        case _:  # a letter doubled
            return word[:at] + word[at] + word[at:]


def _vary_email(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    roll = rng.random()
    if roll < 0.35 and domain in _PLUS_DOMAINS:  # the same mailbox, written differently
        # A dot somewhere between two letters (an address never has "..").
        spots = [i for i in range(1, len(local)) if "." not in local[i - 1 : i + 1]]
        if domain == "gmail.com" and spots and rng.random() < 0.5:
            at = rng.choice(spots)
            return f"{local[:at]}.{local[at:]}@{rng.choice(('gmail.com', 'googlemail.com'))}"
        return f"{local}+{rng.choice(('shop', 'news', 'orders'))}@{domain}"
    if roll < 0.65:  # another address at the same domain
        other = local.replace(".", "_") if "." in local else f"{local[0]}.{local[1:]}"
        return f"{other}@{domain}"
    return f"{local}.home@{rng.choices(_FREE_DOMAINS, _FREE_WEIGHTS)[0]}"


def _vary_phone(phone: str | None, rng: random.Random) -> str | None:
    roll = rng.random()
    if phone is None or roll < 0.2:
        return None
    if roll < 0.3:
        return phone
    if roll < 0.4:  # another number: a second phone, or a new one
        return _phone(rng)
    if phone.startswith("0"):  # national German: make it international
        country, groups = "49", phone[1:].split()
    else:
        country, *groups = phone[1:].split()
    rest = "".join(groups)
    styles = [
        f"00{country} {' '.join(groups)}",
        f"+{country}-{'-'.join(groups)}",
        f"+{country}{rest}",
        f"+{country} ({groups[0]}) {' '.join(groups[1:])}",
    ]
    if country == "49":
        subscriber = groups[-1]
        spaced = " ".join(subscriber[i : i + 2] for i in range(0, len(subscriber), 2))
        styles += [
            f"0{groups[0]} {subscriber}",
            f"(0{groups[0]}) {spaced}",
            f"0{rest[:3]}/{rest[3:]}",
        ]
    return rng.choice(styles)


def _vary_address(address: str | None, rng: random.Random) -> str | None:
    roll = rng.random()
    if address is None or roll < 0.3:
        return None
    if roll < 0.5:
        return address
    changed = address
    for old, new in (("straße", "str."), ("Street", "St."), ("Road", "Rd."), ("Avenue", "Ave")):
        changed = changed.replace(old, new)
    if rng.random() < 0.5:
        changed = changed.replace(", ", "\n") if ", " in changed else changed.replace("\n", ", ")
    if rng.random() < 0.3:
        changed = changed.upper() if rng.random() < 0.5 else changed.lower()
    return changed
