"""What mail providers document about their addresses, as data.

Only rules a provider documents are applied, because a wrong rule merges two people:

- **Gmail** (gmail.com, googlemail.com): dots in the local part are ignored, ``+tag`` is
  dropped, and googlemail.com is the same mailbox as gmail.com (Google's help "Dots don't
  matter in Gmail addresses" and "Create task-specific email addresses").
- **Microsoft** (outlook.*, hotmail.*, live.*, msn.com): ``+tag`` plus-addressing is
  delivered to the mailbox.  The domains are *not* merged: x@hotmail.com and x@outlook.com
  can belong to different people.
- **Apple iCloud** (icloud.com, me.com, mac.com): ``+tag`` is delivered to the mailbox, and
  an @me.com or @mac.com address always comes with the @icloud.com address of the same
  name on the same account (Apple support "About your @icloud.com, @me.com, and @mac.com
  email addresses"), so both map to icloud.com.
- **Fastmail** (fastmail.com, fastmail.fm): ``+tag`` is dropped, and subdomain addressing
  ``anything@user.fastmail.com`` is delivered to ``user@fastmail.com``.
- **Proton** (proton.me, protonmail.com, protonmail.ch, pm.me): ``+tag`` (+Alias) is dropped.
  Proton is reported to ignore dots, hyphens and underscores as well, but does not document
  it, so that is not applied; nor are its domains merged (pm.me mirrors whichever domain
  the account was created on).
- **Yahoo**: nothing beyond lower case.  Its "disposable addresses" are
  ``basename-keyword@yahoo.com`` with a *chosen* base name that is not the account's
  address, so dropping ``-keyword`` would not give the mailbox; and a shop (one tenant)
  normally sees one disposable address per customer, since the keyword is per shop.

Every other domain is only lower-cased: a ``+`` or ``.`` in a company address can be
meaningful, and only the domain's own mail server knows.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """How one provider's addresses map to the mailbox they reach."""

    domain: str  # the canonical domain of the mailbox
    tag_separator: str | None = "+"  # the local part is cut at the first one
    ignore_dots: bool = False
    subdomain_addressing: bool = False  # ``tag@user.<domain>`` reaches ``user@<domain>``


_GMAIL = Provider("gmail.com", ignore_dots=True)
_ICLOUD = Provider("icloud.com")

_MICROSOFT_DOMAINS = (
    "outlook.com",
    "outlook.de",
    "outlook.fr",
    "outlook.es",
    "outlook.it",
    "outlook.co.uk",
    "hotmail.com",
    "hotmail.de",
    "hotmail.fr",
    "hotmail.es",
    "hotmail.it",
    "hotmail.co.uk",
    "live.com",
    "live.de",
    "live.fr",
    "live.co.uk",
    "msn.com",
)
_PLUS_ONLY_DOMAINS = ("proton.me", "protonmail.com", "protonmail.ch", "pm.me")

PROVIDERS: dict[str, Provider] = {
    "gmail.com": _GMAIL,
    "googlemail.com": _GMAIL,
    "icloud.com": _ICLOUD,
    "me.com": _ICLOUD,
    "mac.com": _ICLOUD,
    "fastmail.com": Provider("fastmail.com", subdomain_addressing=True),
    "fastmail.fm": Provider("fastmail.fm", subdomain_addressing=True),
    **{domain: Provider(domain) for domain in _MICROSOFT_DOMAINS},
    **{domain: Provider(domain) for domain in _PLUS_ONLY_DOMAINS},
}

# Domains shared by unrelated people: the same domain there says nothing about two
# customers.  Canonical forms (googlemail.com is gmail.com by then).  A tenant can add its
# own (an ISP, a university) through ``FinderSettings.shared_domains``.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset(
    {
        *_MICROSOFT_DOMAINS,
        *_PLUS_ONLY_DOMAINS,
        "gmail.com",
        "icloud.com",
        "fastmail.com",
        "fastmail.fm",
        "yahoo.com",
        "yahoo.de",
        "yahoo.fr",
        "yahoo.co.uk",
        "yahoo.es",
        "yahoo.it",
        "ymail.com",
        "rocketmail.com",
        "aol.com",
        "aol.de",
        "gmx.de",
        "gmx.net",
        "gmx.at",
        "gmx.ch",
        "gmx.com",
        "web.de",
        "t-online.de",
        "freenet.de",
        "arcor.de",
        "posteo.de",
        "mailbox.org",
        "online.de",
        "email.de",
        "bluewin.ch",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "sfr.fr",
        "wanadoo.fr",
        "libero.it",
        "virgilio.it",
        "btinternet.com",
        "sky.com",
        "comcast.net",
        "verizon.net",
        "att.net",
        "zoho.com",
        "yandex.ru",
        "yandex.com",
        "mail.ru",
        "qq.com",
        "163.com",
        "126.com",
        "naver.com",
        "seznam.cz",
        "wp.pl",
        "o2.pl",
        "interia.pl",
        "tutanota.com",
        "hey.com",
    }
)
