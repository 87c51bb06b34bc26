"""Identifier normalisation that SQL cannot do well, by maintained libraries: phones to E.164 with
`phonenumbers` (libphonenumber's rules per country), emails checked with `email-validator`.

The dbt Python model int_identity__record_identifiers applies both to every record's identifiers, and the
reverse-ETL hashing (reverse_etl/hashing.py) uses the same rules, so an audience matches the identity graph.
The plain string rules for emails (trim, lowercase, gmail's dots and tags) also live in the dbt macros
identity_email_*; `email_value` and `email_match_key` are their Python mirrors.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email

GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


@lru_cache(maxsize=200_000)
def phone_to_e164(written: str | None, country: str | None, candidate_countries: tuple[str, ...] = ()) -> str | None:
    """E.164 for a phone as written, or None when it is not a valid phone number.

    Valid means libphonenumber's `is_valid_number` (the number lies in a range assigned in its region), not
    `is_possible_number` (it has a possible length): possible numbers include the junk people type when a
    till or a form insists on a phone, such as +1 555 000 0000 (no such area code), 0000000000 or the UK's
    drama range +44 7700 900xxx, and one such value shared by many records joins different people into one
    profile. A number in a range that libphonenumber's metadata does not know yet is lost as an identifier;
    that costs a link, where accepting junk merges people.

    A number written with '+' needs no country. A local form is parsed with the record's country; when the
    record has none, with each candidate country (the business's markets), and accepted only if exactly one
    of them reads it as a valid number: guessing between two countries would invent a link.
    """
    if not written or not written.strip():
        return None
    if written.strip().startswith("+"):
        regions: list[str | None] = [None]
    else:
        regions = [country] if country else _plausible_regions(written, candidate_countries)
    valid = set()
    for region in regions:
        try:
            parsed = phonenumbers.parse(written, region)
        except phonenumbers.NumberParseException:
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if _reads_back(e164) and phonenumbers.is_valid_number(parsed) and _not_a_placeholder(parsed):
            valid.add(e164)
    return valid.pop() if len(valid) == 1 else None


def _plausible_regions(written: str, candidates: tuple[str, ...]) -> list[str]:
    """The candidate countries a locally written number can come from, by its trunk prefix: where the
    national prefix is 0 (GB, DE, ...) a local number is written with it, and where it is not (US, CA) a
    local number never starts with 0. Without this, '(218) 207-4642' also reads as a valid German number."""
    starts_with_zero = written.lstrip(" (").startswith("0")
    regions = []
    for region in candidates:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is not None and (metadata.national_prefix == "0") == starts_with_zero:
            regions.append(region)
    return regions


def _reads_back(e164: str) -> bool:
    """Whether an E.164 string parses to itself. Leading zeros that libphonenumber keeps for a local form
    ('000010' in DE gives +4900010) read back differently (+490010): such a string is no number, and taking
    it would make normalising twice differ from once."""
    try:
        again = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.format_number(again, phonenumbers.PhoneNumberFormat.E164) == e164


def _not_a_placeholder(parsed: phonenumbers.PhoneNumber) -> bool:
    """One digit repeated (07777 777777, 03333 33333) is a placeholder even where the range is assigned."""
    return len(set(str(parsed.national_number))) > 1


def phones_to_e164(
    rows: Iterable[tuple[str | None, str | None]], candidate_countries: Iterable[str] = ()
) -> list[str | None]:
    """Vectorised over (written, country) pairs; the cache makes repeated values cheap."""
    candidates = tuple(candidate_countries)
    return [phone_to_e164(written, country or None, candidates) for written, country in rows]


def email_value(written: str) -> str:
    """An email as people mean it, valid or not: surrounding whitespace gone, lowercased, NFC (a decomposed
    accent is the same letter), and without the one trailing dot of a fully qualified domain
    ('jo@gmail.com.' is the mailbox jo@gmail.com; the ad platforms hold it without the dot)."""
    email = unicodedata.normalize("NFC", written.strip().lower())
    return email[:-1] if email.endswith(".") else email


def email_address(written: str | None) -> str | None:
    """`email_value` of an email as written, or None when it is no address.

    The decision is email-validator's syntax check (RFC 5321/5322 as mail servers apply them, with
    internationalised domains and local parts), not a regular expression of ours. Deliverability (a DNS
    look-up per domain) stays off: identity and hashing must give the same answer offline and on every run.
    Its other defaults refuse what no platform matches on: no dot in the domain ('a@b', 'jo@localhost'),
    special-use domains ('.test', '.invalid'), quoted local parts, display names, IP-address domains.
    """
    if not written or not written.strip():
        return None
    return _checked(email_value(written))


@lru_cache(maxsize=200_000)
def _checked(email: str) -> str | None:
    """Cached on the normalised value, so the spellings of one address (case, whitespace) are checked once."""
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return None
    return email


def emails_to_identifiers(written: Iterable[str | None]) -> list[tuple[str, str] | None]:
    """Vectorised: (value, match key) for each email as written, None where it is no address."""
    return [None if (email := email_address(w)) is None else (email, _provider_key(email)) for w in written]


def email_match_key(written: str) -> str:
    """The key emails match on, for looking an address up: `email_value` with the provider rules (gmail and
    googlemail ignore dots and anything from '+' in the local part, and are one domain). The Python mirror
    of the dbt macro identity_email_match_key."""
    return _provider_key(email_value(written))


def _provider_key(email: str) -> str:
    local, at, domain = email.partition("@")
    if at and domain in GMAIL_DOMAINS:
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return email
