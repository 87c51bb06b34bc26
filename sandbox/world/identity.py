"""People's identifiers as the vendors see them: names, emails, phones, and the dirt written into them.

Pure functions over a numpy Generator; `normalize_email` / `normalize_phone` are the canonical forms the
truth files record (trimmed, lowercased emails with gmail dots and +tags removed; E.164 phones).
"""

from __future__ import annotations

import re

import numpy as np

FIRST_NAMES = {
    "US": ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
           "Chris", "Ashley", "Daniel", "Emily", "Kevin", "Olivia", "Jose", "Maria", "Tyler", "Grace"),
    "GB": ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Charlie", "Sophie",
           "Thomas", "Emily", "Alfie", "Poppy", "Oscar", "Lily", "William", "Freya", "Henry", "Ruby"),
    "DE": ("Lukas", "Anna", "Leon", "Lena", "Finn", "Lea", "Jonas", "Hannah", "Paul", "Marie",
           "Felix", "Laura", "Maximilian", "Julia", "Elias", "Sophie", "Noah", "Katharina", "Ben", "Clara"),
}
LAST_NAMES = {
    "US": ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
           "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Lee", "Harris", "Clark", "Lewis"),
    "GB": ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
           "Robinson", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Hughes"),
    "DE": ("Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
           "Koch", "Richter", "Klein", "Wolf", "Schroeder", "Neumann", "Schwarz", "Braun", "Zimmermann", "Krueger"),
}
CITIES = {
    "US": (("New York", "10001"), ("San Francisco", "94103"), ("Chicago", "60601"), ("Austin", "78701")),
    "GB": (("London", "EC1A 1BB"), ("Manchester", "M1 1AE"), ("Bristol", "BS1 4DJ"), ("Leeds", "LS1 4AP")),
    "DE": (("Berlin", "10115"), ("Hamburg", "20095"), ("Munich", "80331"), ("Cologne", "50667")),
}
PERSONAL_DOMAINS = {
    "US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
    "GB": ("gmail.com", "hotmail.co.uk", "btinternet.com", "outlook.com"),
    "DE": ("gmail.com", "web.de", "gmx.de", "t-online.de"),
}
# The alt conventions' providers: the dev ones and as many again, country domains among them. googlemail.com
# is Gmail (the same mailbox as at gmail.com; Germans long had to use it).
ALT_PERSONAL_DOMAINS = {
    "US": (*PERSONAL_DOMAINS["US"], "hotmail.com", "aol.com", "proton.me", "comcast.net"),
    "GB": (*PERSONAL_DOMAINS["GB"], "yahoo.co.uk", "sky.com", "live.co.uk", "icloud.com"),
    "DE": (*PERSONAL_DOMAINS["DE"], "googlemail.com", "gmx.net", "yahoo.de", "posteo.de"),
}
DOMAIN_SETS = {"dev": PERSONAL_DOMAINS, "alt": ALT_PERSONAL_DOMAINS}
# What people who go by a nickname are called (names of FIRST_NAMES that have a common one).
NICKNAMES = {
    "James": "Jim", "Robert": "Bob", "Patricia": "Patty", "John": "Jack", "Jennifer": "Jen", "Michael": "Mike",
    "Elizabeth": "Liz", "Chris": "Kit", "Daniel": "Dan", "Kevin": "Kev", "Jose": "Pepe", "Oliver": "Ollie",
    "Amelia": "Millie", "George": "Georgie", "Harry": "Haz", "Charlie": "Chaz", "Sophie": "Soph", "Thomas": "Tom",
    "William": "Will", "Henry": "Hal", "Lukas": "Luke", "Leon": "Leo", "Jonas": "Joni", "Hannah": "Hanni",
    "Felix": "Flix", "Maximilian": "Max", "Julia": "Jule", "Elias": "Eli", "Katharina": "Kathi",
}
WORK_DOMAINS = ("studio-north.com", "acme-interiors.com", "brightdesign.co", "hausplan.de", "oakandco.co.uk")
EMAIL_TYPOS = {"gmail.com": "gmial.com", "yahoo.com": "yaho.com", "outlook.com": "outlok.com", "gmx.de": "gmx.com"}
# Typos of the alt providers only: a typo table entry for a dev provider would change the dev world.
EMAIL_TYPOS.update({"hotmail.com": "hotmial.com", "googlemail.com": "googlemail.de", "yahoo.co.uk": "yahoo.co",
                    "gmx.net": "gmx.ne"})

JUNK_EMAILS = ("test@test.com", "noemail@example.com", "unknown", "n/a", "none@none.com")
JUNK_PHONES = ("0000000000", "n/a", "unknown", "1234567890")
JUNK_VALUES = frozenset(JUNK_EMAILS + JUNK_PHONES)

# Calling codes and the trunk prefix a local number is written with (US numbers have none).
CALLING_CODE = {"US": "1", "GB": "44", "DE": "49"}


def pick(rng: np.random.Generator, options: tuple, n: int) -> list:
    return [options[i] for i in rng.integers(0, len(options), n)]


# Area codes in service in the world's cities and beyond: a number under one, with an exchange of 2-9xx, is in
# an assigned range. People's phones must be valid numbers, as real ones are, because only valid numbers
# identify (cdp.identity.normalize.phone_to_e164); junk ones are written in as junk (JUNK_PHONES).
US_AREA_CODES = (212, 646, 718, 917, 347, 929, 415, 628, 650, 510, 312, 773, 872, 630, 512, 737, 213, 310,
                 323, 202, 617, 206, 305, 404, 702, 303, 214, 713, 602, 615)  # fmt: skip


def e164_phone(country: str, digits: str) -> str:
    """A valid phone number in E.164 from a country and 10 national digits drawn by the caller: US numbers
    under a real area code, GB mobiles in 071-073 and London numbers in 020 3/7/8 (assigned throughout),
    German Berlin and 0151 mobile numbers."""
    if country == "US":
        area = US_AREA_CODES[int(digits[:3]) % len(US_AREA_CODES)]
        return f"+1{area}{2 + int(digits[3]) % 8}{digits[4:10]}"
    if country == "GB":
        if int(digits[0]) % 2:
            return f"+447{1 + int(digits[1]) % 3}{digits[2:10]}"
        return f"+4420{'378'[int(digits[2]) % 3]}{digits[3:10]}"
    return f"+4930{digits[3:10]}" if int(digits[0]) % 2 else f"+49151{digits[2:10]}"


def local_phone(e164: str) -> str:
    """The same number as people write it at home: '(415) 555-0134', '020 7946 0958', '030 1234567'."""
    if e164.startswith("+1"):
        n = e164[2:]
        return f"({n[:3]}) {n[3:6]}-{n[6:]}"
    if e164.startswith("+44"):
        n = "0" + e164[3:]
        return f"{n[:3]} {n[3:7]} {n[7:]}" if n.startswith("020") else f"{n[:5]} {n[5:]}"
    n = "0" + e164[3:]
    return f"{n[:3]} {n[3:]}" if n.startswith("030") else f"{n[:4]} {n[4:]}"


def normalize_phone(value: str | None, country: str | None) -> str | None:
    """E.164 from a written phone: '+…' kept (digits only), a local form needs the record's country."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if not digits:
        return None
    if value.strip().startswith("+"):
        return "+" + digits
    if country not in CALLING_CODE:
        return None
    code = CALLING_CODE[country]
    national = digits[1:] if country != "US" and digits.startswith("0") else digits
    return f"+{code}{national}"


def normalize_email(value: str | None) -> str | None:
    """Trim and lowercase; for gmail/googlemail drop dots and anything from '+' in the local part."""
    if not value:
        return None
    email = value.strip().lower()
    local, at, domain = email.partition("@")
    if not at:
        return email
    if domain in ("gmail.com", "googlemail.com"):
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def normalize(id_type: str, value: str, country: str | None = None) -> str:
    if id_type == "email":
        return normalize_email(value) or value
    if id_type == "phone":
        if value.strip().lower() in JUNK_VALUES:
            return value.strip().lower()
        return normalize_phone(value, country) or value
    return value


def base_email(first: str, last: str, serial: int, domain: str) -> str:
    """A person's own address: first.last<serial>@domain, unique per person by the serial."""
    return f"{first.lower()}.{last.lower()}{serial}@{domain}"


def styled_email(style: str, first: str, last: str, serial: int, domain: str) -> str:
    """A person's address in one of the configuration's styles ('{f}{last}{serial}' gives jsmith12)."""
    return f"{style.format(first=first.lower(), last=last.lower(), f=first[0].lower(), serial=serial)}@{domain}"


def email_variant(email: str, rng: np.random.Generator) -> str:
    """The same mailbox written another way: case/whitespace, gmail dots or +tags (normalise back to it)."""
    local, _, domain = email.partition("@")
    choice = int(rng.integers(0, 3))
    if domain == "googlemail.com" and choice == 0:
        return f"{local}@gmail.com"  # the same Gmail mailbox under its other domain
    if domain == "gmail.com" and choice == 0:
        return f"{local.replace('.', '')}+shop@{domain}"
    if domain == "gmail.com" and choice == 1:
        return f"{local[:1]}.{local[1:]}@{domain}".replace("..", ".")
    return f" {local.capitalize()}@{domain.upper()} " if choice == 2 else f"{local.title()}@{domain}"


def email_typo(email: str) -> str:
    """A mistyped address (a different mailbox: it does not normalise back)."""
    local, _, domain = email.partition("@")
    if domain in EMAIL_TYPOS:
        return f"{local}@{EMAIL_TYPOS[domain]}"
    return f"{local[:-1]}@{domain}" if len(local) > 2 else f"{local}x@{domain}"
