"""Identifier normalisation that SQL cannot do well: phone numbers to E.164 with `phonenumbers`.

Emails are normalised in SQL (dbt macros identity_*), where the rule is a simple string function.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=200_000)
def phone_to_e164(written: str | None, country: str | None, candidate_countries: tuple[str, ...] = ()) -> str | None:
    """E.164 for a phone as written, or None when it cannot be a phone number.

    A number written with '+' needs no country. A local form is parsed with the record's country; when the
    record has none, with each candidate country (the business's markets), and accepted only if exactly one
    of them reads it as a valid number, or else (no country does) exactly one as a possible one: guessing
    between two countries would invent a link. "Possible" (the right length) rather than "valid" (an
    assigned range) for numbers in their own country, because libphonenumber's range metadata lags real
    allocations (and rejects a third of the sandbox's numbers).
    """
    if not written or not written.strip():
        return None
    if written.strip().startswith("+"):
        regions: list[str | None] = [None]
    else:
        regions = [country] if country else _plausible_regions(written, candidate_countries)
    valid, possible = set(), set()
    for region in regions:
        try:
            parsed = phonenumbers.parse(written, region)
        except phonenumbers.NumberParseException:
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if not _reads_back(e164):
            continue
        if phonenumbers.is_valid_number(parsed):
            valid.add(e164)
        elif phonenumbers.is_possible_number(parsed) and _not_a_placeholder(parsed):
            possible.add(e164)
    if len(valid) == 1:
        return valid.pop()
    if not valid and len(possible) == 1:
        return possible.pop()
    return None


def _plausible_regions(written: str, candidates: tuple[str, ...]) -> list[str]:
    """The candidate countries a locally written number can come from, by its trunk prefix: where the
    national prefix is 0 (GB, DE, ...) a local number is written with it, and where it is not (US, CA) a
    local number never starts with 0. Without this, '(218) 107-4642' also reads as a valid German number."""
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
    """Possible-length strings of one repeated digit (0000000000) are placeholders, not numbers."""
    return len(set(str(parsed.national_number))) > 1


def phones_to_e164(
    rows: Iterable[tuple[str | None, str | None]], candidate_countries: Iterable[str] = ()
) -> list[str | None]:
    """Vectorised over (written, country) pairs; the cache makes repeated values cheap."""
    candidates = tuple(candidate_countries)
    return [phone_to_e164(written, country or None, candidates) for written, country in rows]


def email_match_key(written: str) -> str:
    """The Python mirror of the dbt macro identity_email_match_key, for looking an address up."""
    email = written.strip().lower()
    local, at, domain = email.partition("@")
    if at and domain in ("gmail.com", "googlemail.com"):
        return local.split("+", 1)[0].replace(".", "") + "@gmail.com"
    return email
