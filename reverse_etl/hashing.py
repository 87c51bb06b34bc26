"""Normalise and SHA-256 hash people's identifiers for ad-platform audiences (Meta, Google Customer Match).

Ad platforms match on hashes, so one stray capital, space or missing country code turns a customer into a
non-match; near-zero match rates are the usual complaint about reverse-ETL tools. Each platform's rules
are implemented as its own docs state them, and a value that is not valid after normalising becomes ""
(Meta accepts empty cells; we never hash garbage). A value that is already a SHA-256 hex digest passes
through unchanged, so hashing twice cannot happen.

Meta (Marketing API, customer list custom audiences, `payload.schema` keys): `meta_normalise`, `meta_hash`,
`meta_row`. Google (Customer Match / Data Manager API): the `google_*` functions, built on Google's own
`google-ads-datamanager-util` Formatter. Phones and emails follow the identity graph's rules, so audiences
match it: phones to E.164 with `cdp.identity.normalize.phone_to_e164` (libphonenumber, valid numbers only),
emails judged by `cdp.identity.normalize.email_address` (email-validator, no DNS; trimmed, lowercased, and
without a trailing dot on the domain: the platforms hold jo@gmail.com, never jo@gmail.com.).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import date
from functools import cache

import phonenumbers

from cdp.identity.normalize import email_address, phone_to_e164

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")

# ISO 3166-1 alpha-2: libphonenumber's regions minus its three non-ISO ones (Ascension, Tristan da Cunha,
# Kosovo), plus the ISO territories that have no phone numbering of their own.
_ISO_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS - {"AC", "TA", "XK"}) | {
    "AQ", "BV", "GS", "HM", "TF", "UM", "PN",
}  # fmt: skip
# "UK" is not an ISO code but is what people type for the United Kingdom.
_COUNTRY_ALIASES = {"UK": "GB"}

US_STATES = {
    "alabama": "al", "alaska": "ak", "arizona": "az", "arkansas": "ar", "california": "ca", "colorado": "co",
    "connecticut": "ct", "delaware": "de", "districtofcolumbia": "dc", "florida": "fl", "georgia": "ga",
    "hawaii": "hi", "idaho": "id", "illinois": "il", "indiana": "in", "iowa": "ia", "kansas": "ks",
    "kentucky": "ky", "louisiana": "la", "maine": "me", "maryland": "md", "massachusetts": "ma",
    "michigan": "mi", "minnesota": "mn", "mississippi": "ms", "missouri": "mo", "montana": "mt",
    "nebraska": "ne", "nevada": "nv", "newhampshire": "nh", "newjersey": "nj", "newmexico": "nm",
    "newyork": "ny", "northcarolina": "nc", "northdakota": "nd", "ohio": "oh", "oklahoma": "ok",
    "oregon": "or", "pennsylvania": "pa", "rhodeisland": "ri", "southcarolina": "sc", "southdakota": "sd",
    "tennessee": "tn", "texas": "tx", "utah": "ut", "vermont": "vt", "virginia": "va", "washington": "wa",
    "westvirginia": "wv", "wisconsin": "wi", "wyoming": "wy", "puertorico": "pr", "guam": "gu",
    "americansamoa": "as", "northernmarianaislands": "mp", "usvirginislands": "vi", "virginislands": "vi",
    "washingtondc": "dc",
}  # fmt: skip
_US_STATE_CODES = frozenset(US_STATES.values())

# US ZIP, optionally ZIP+4; Meta wants the first 5 digits.
_US_ZIP = re.compile(r"([0-9]{5})(?:-?[0-9]{4})?")
# UK postcode, lowercased with spaces removed: outward code, then the inward code's sector digit and unit.
_UK_POSTCODE = re.compile(r"([a-z]{1,2}[0-9][a-z0-9]?)([0-9])(?:[a-z]{2})?")

META_KEYS = (
    "EXTERN_ID", "EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP",
    "COUNTRY", "MADID",
)  # fmt: skip
# Meta takes these two as they are; every other key must be SHA-256 hashed.
META_UNHASHED_KEYS = frozenset({"EXTERN_ID", "MADID"})


def is_sha256_hex(value: str | None) -> bool:
    """Whether a value already is a SHA-256 hex digest (64 hex characters), i.e. was hashed upstream."""
    return value is not None and _SHA256_HEX.fullmatch(value.strip()) is not None


def sha256_hex(normalised: str) -> str:
    """Lowercase hex SHA-256 of a normalised value's UTF-8 bytes; "" stays "" (an empty cell, not a hash)."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else ""


# --- Shared pieces ----------------------------------------------------------------------------------------


def _letters_only(value: str) -> str:
    """Lowercase Unicode letters (and their accents) only: no spaces, digits or punctuation.

    NFKC first so full-width letters and ligatures read as the letters they show; accents are kept (Meta:
    "special characters in UTF-8"), and NFC at the end so a decomposed "é" hashes like a precomposed one.
    """
    text = unicodedata.normalize("NFKC", value).lower()
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] in "LM")
    return unicodedata.normalize("NFC", kept)


def _international_phone(value: str, region: str) -> str:
    """E.164 ('+' and digits) for a phone as written, or "" when it is not a dialable number.

    A local form takes the country code of `region`. When that reading fails, the digits are tried as an
    international number: Meta's own examples write numbers with their country code but no '+'
    ("44 844 412 4653"), and Europeans write '00' for '+'. That reading is a guess, so it must be a number
    libphonenumber knows as assigned, not just the right length.
    """
    written = value.strip()
    e164 = phone_to_e164(written, region.upper() if region else None)
    if e164 and _full_number(e164):
        return e164
    digits = re.sub(r"\D", "", written)
    if written.startswith("+") or not digits:
        return ""
    guess = "+" + digits.removeprefix("00")
    try:
        parsed = phonenumbers.parse(guess, None)
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(parsed):
        return ""
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _full_number(e164: str) -> bool:
    """A number dialable from abroad: "555-1234" is a possible US number only locally (no area code)."""
    reason = phonenumbers.is_possible_number_with_reason(phonenumbers.parse(e164, None))
    return reason == phonenumbers.ValidationResult.IS_POSSIBLE


def _country_code(value: str) -> str:
    """ISO 3166-1 alpha-2 (uppercase) from a written country code, or "" when it is none."""
    letters = re.sub(r"[^A-Za-z]", "", value).upper()
    letters = _COUNTRY_ALIASES.get(letters, letters)
    return letters if letters in _ISO_COUNTRIES else ""


def _number_in_range(value: str, low: int, high: int, width: int) -> str:
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > width:
        return ""
    return text.zfill(width) if low <= int(text) <= high else ""


# --- Meta --------------------------------------------------------------------------------------------------


def meta_normalise(key: str, value: str | None, default_region: str = "US") -> str:
    """One cell of a Meta custom-audience payload before hashing, normalised by Meta's rules for `key`.

    `default_region` is the country the value belongs to when it does not say: the country code for a
    phone written without one, and the rules for ST (US state codes) and ZIP (US: 5 digits; UK: sector).
    Returns "" for an empty or invalid value, and an already-hashed value unchanged.
    """
    schema_key = key.strip().upper()
    if schema_key not in META_KEYS:
        raise ValueError(f"Unknown Meta schema key {key!r}: use one of {', '.join(META_KEYS)}.")
    if value is None:
        return ""
    if schema_key == "EXTERN_ID":
        return value  # Meta matches it exactly as the advertiser's systems wrote it.
    if schema_key == "MADID":
        return value.strip().lower()  # Lowercase with hyphens kept; never hashed.
    if is_sha256_hex(value):
        return value.strip().lower()
    region = (default_region or "").strip().upper()
    text = value.strip()
    match schema_key:
        case "EMAIL":
            # Meta: trimmed and lowercased; "jo@localhost", "a@b" and "n/a" are never hashed.
            return email_address(text) or ""
        case "PHONE":
            # Digits only, with country code, no '+' and no leading zeros: E.164 without its '+'.
            return _international_phone(text, region).removeprefix("+")
        case "FN" | "LN" | "CT":
            return _letters_only(text)
        case "FI":
            return _letters_only(text)[:1]
        case "ST":
            return _meta_state(text, region)
        case "ZIP":
            return _meta_zip(text, region)
        case "COUNTRY":
            return _country_code(text).lower()
        case "DOBY":
            return _number_in_range(text, 1900, date.today().year, 4)
        case "DOBM":
            return _number_in_range(text, 1, 12, 2)
        case "DOBD":
            return _number_in_range(text, 1, 31, 2)
        case "GEN":
            return {"m": "m", "male": "m", "f": "f", "female": "f"}.get(_letters_only(text), "")
    raise AssertionError(f"Meta key {schema_key} has no rule")  # Unreachable: every META_KEYS entry has one.


def _meta_state(text: str, region: str) -> str:
    """US: the 2-letter code, lowercase (full names map to it; anything else is not a US state). Elsewhere:
    lowercase with no punctuation, special characters or spaces."""
    letters = _letters_only(text)
    if region != "US":
        return letters
    if letters in _US_STATE_CODES:
        return letters
    return US_STATES.get(letters, "")


def _meta_zip(text: str, region: str) -> str:
    """Lowercase, no spaces. US: the first 5 digits of a ZIP or ZIP+4. UK: area, district and sector
    ("SW1A 1AA" -> "sw1a1"), as Meta asks."""
    compact = re.sub(r"\s", "", text).lower()
    if region == "US":
        match = _US_ZIP.fullmatch(compact)
        return match.group(1) if match else ""
    if region == "GB":
        match = _UK_POSTCODE.fullmatch(compact)
        return match.group(1) + match.group(2) if match else compact
    return compact


def meta_hash(key: str, value: str | None, default_region: str = "US") -> str:
    """The value to send for `key` in a Meta payload: SHA-256 hex of the normalised value, the value itself
    for EXTERN_ID and MADID, an already-hashed value unchanged, and "" when nothing valid is left."""
    normalised = meta_normalise(key, value, default_region)
    if key.strip().upper() in META_UNHASHED_KEYS or is_sha256_hex(normalised):
        return normalised
    return sha256_hex(normalised)


def meta_row(schema: list[str], values: dict[str, str | None], default_region: str = "US") -> list[str]:
    """One `payload.data` row in `schema` order. The row's own COUNTRY, when valid, is the region for its
    PHONE, ST and ZIP (Meta: a phone without country code takes the COUNTRY's); else `default_region`."""
    written_country = values.get("COUNTRY") or ""
    country = "" if is_sha256_hex(written_country) else _country_code(written_country)
    region = country or default_region
    return [meta_hash(key, values.get(key), region) for key in schema]


# --- Google ------------------------------------------------------------------------------------------------


@cache
def _google_formatter():
    """Google's Formatter, imported on first use: its package imports Tink and the Cloud KMS client, which
    took 0.84 s here, a cost nothing that only needs Meta hashing should pay."""
    from google.ads.datamanager_util import Formatter

    return Formatter()


def _google_format(method: str, value: str) -> str:
    """Apply one of the Formatter's format_* methods; it raises ValueError for a value it rejects."""
    try:
        return getattr(_google_formatter(), method)(value)
    except ValueError:
        return ""


def google_normalise_email(value: str | None) -> str:
    """Lowercase with all whitespace removed (leading, trailing and inside); for gmail.com/googlemail.com
    the dots and anything from '+' in the local part go (Google's Formatter). "" for an invalid address."""
    if value is None:
        return ""
    if is_sha256_hex(value):
        return value.strip().lower()
    email = email_address(re.sub(r"\s", "", value))
    return _google_format("format_email_address", email) if email else ""


def google_normalise_phone(value: str | None, default_region: str = "US") -> str:
    """E.164 with '+' and country code ("(800)555-0100" -> "+18005550100" in the US); "" if not a number."""
    if value is None:
        return ""
    if is_sha256_hex(value):
        return value.strip().lower()
    e164 = _international_phone(value, (default_region or "").strip().upper())
    return _google_format("format_phone_number", e164) if e164 else ""


# Google: "Don't include prefixes such as Mrs." / "Don't include suffixes such as Jr."; Google's Formatter
# leaves that to the caller.
_NAME_PREFIX = re.compile(r"^(?:mr|mrs|ms|miss|mx|dr)\.?\s+")
_NAME_SUFFIX = re.compile(r",?\s+(?:jr|sr|ii|iii|iv)\.?$")


def google_normalise_given_name(value: str | None) -> str:
    """Lowercase and trimmed, without a title such as "Mrs."."""
    if value is None:
        return ""
    if is_sha256_hex(value):
        return value.strip().lower()
    return _google_format("format_given_name", _NAME_PREFIX.sub("", value.strip().lower()))


def google_normalise_family_name(value: str | None) -> str:
    """Lowercase and trimmed, without a suffix such as "Jr."."""
    if value is None:
        return ""
    if is_sha256_hex(value):
        return value.strip().lower()
    return _google_format("format_family_name", _NAME_SUFFIX.sub("", value.strip().lower()))


def google_normalise_region_code(value: str | None) -> str:
    """The ISO 3166-1 alpha-2 code, uppercase as Google's Formatter writes it (never hashed)."""
    code = _country_code(value or "")
    return _google_format("format_region_code", code) if code else ""


def google_normalise_postal_code(value: str | None) -> str:
    """Trimmed (never hashed): Google takes US 5-digit or ZIP+4 codes, other countries' as written."""
    return _google_format("format_postal_code", value) if value else ""


def _google_hash(normalised: str) -> str:
    return normalised if is_sha256_hex(normalised) else sha256_hex(normalised)


def google_hash_email(value: str | None) -> str:
    return _google_hash(google_normalise_email(value))


def google_hash_phone(value: str | None, default_region: str = "US") -> str:
    return _google_hash(google_normalise_phone(value, default_region))


def google_hash_given_name(value: str | None) -> str:
    return _google_hash(google_normalise_given_name(value))


def google_hash_family_name(value: str | None) -> str:
    return _google_hash(google_normalise_family_name(value))


def google_address(
    given_name: str | None, family_name: str | None, region_code: str | None, postal_code: str | None
) -> dict[str, str] | None:
    """A Data Manager API `AddressInfo` (hashed names, plain region and postal code), or None when a part is
    missing or invalid: Google matches an address only with all four, so a partial one is not sent."""
    address = {
        "givenName": google_hash_given_name(given_name),
        "familyName": google_hash_family_name(family_name),
        "regionCode": google_normalise_region_code(region_code),
        "postalCode": google_normalise_postal_code(postal_code),
    }
    return address if all(address.values()) else None
