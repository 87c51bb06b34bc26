"""Drawing people: hidden behavioural parameters (vectorised per chunk) and their identifiers.

A person is a plain dict (JSON-serialisable, kept in `people.parquet` beside the truth files) so `advance`
continues each life exactly where generation left it.
"""

from __future__ import annotations

import struct

import numpy as np

from sandbox.world.config import CATEGORIES, CONVENTIONS, COUNTRIES, DEFAULT_CONVENTIONS, Conventions, Rates
from sandbox.world.identity import (
    CITIES,
    DOMAIN_SETS,
    FIRST_NAMES,
    LAST_NAMES,
    NICKNAMES,
    WORK_DOMAINS,
    e164_phone,
    styled_email,
)

DAY = 86_400.0
SOURCES = ("organic", "paid_social", "email", "referral")
SOURCE_WEIGHTS = (0.45, 0.25, 0.15, 0.15)
DEV = CONVENTIONS[DEFAULT_CONVENTIONS]


def random_bytes(rng: np.random.Generator, n_bytes: int) -> bytes:
    """Exactly `rng.bytes(n_bytes)` at a tenth of its cost (numpy's per-call overhead, about 10 us, was 40%
    of the simulation: every analytics event has an $insert_id).

    `Generator.bytes` is ceil(n/4) draws of the bit generator's next_uint32, little-endian; calling that C
    function directly draws the same values and leaves the generator in the same state.
    """
    bits = rng.bit_generator.ctypes
    draw, state = bits.next_uint32, bits.state
    halves = (n_bytes - 1) // 4 + 1
    return struct.pack(f"<{halves}I", *[draw(state) for _ in range(halves)])[:n_bytes]


def random_int(rng: np.random.Generator, low: int, high: int) -> int:
    """Exactly `int(rng.integers(low, high))` for a range below 2**32, without numpy's per-call overhead:
    the same draws by the same method (Lemire's multiply-and-reject on next_uint32)."""
    span = high - low  # numpy's `rng + 1`
    if span == 1:
        return low  # numpy draws nothing for a one-value range
    if not 1 < span < 2**32:
        return int(rng.integers(low, high))
    bits = rng.bit_generator.ctypes
    draw, state = bits.next_uint32, bits.state
    m = draw(state) * span
    leftover = m & 0xFFFFFFFF
    if leftover < span:
        threshold = (0xFFFFFFFF - (span - 1)) % span
        while leftover < threshold:
            m = draw(state) * span
            leftover = m & 0xFFFFFFFF
    return low + (m >> 32)


def hex_id(rng: np.random.Generator, n_bytes: int = 16) -> str:
    return random_bytes(rng, n_bytes).hex()


def device_uuid(rng: np.random.Generator, upper: bool) -> str:
    h = hex_id(rng)
    text = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return text.upper() if upper else text


def loyalty_number(serial: int) -> str:
    """A programme issues each member a number of their own: a scramble of the person's serial, one to one
    over 90 million serials (48,271 shares no factor with 90,000,000), so two people never share one."""
    return f"LN{10_000_000 + serial * 48_271 % 90_000_000}"


def draw_chunk(rng: np.random.Generator, rates: Rates, serials: np.ndarray, acquired_at: np.ndarray,
               conventions: Conventions = DEV) -> list[dict]:
    """One person per serial, acquired at the given times, written down by the world's conventions. Every
    random draw is vectorised over the chunk."""
    n = len(serials)
    if n == 0:
        return []
    lam_mean = rates.purchase_rate_mean_per_year / 365.0
    lam = rng.gamma(rates.purchase_rate_shape, lam_mean / rates.purchase_rate_shape, n)
    mu_mean = rates.dropout_rate_mean_per_year / 365.0
    mu = rng.gamma(rates.dropout_rate_shape, mu_mean / rates.dropout_rate_shape, n)
    dropout_at = acquired_at + rng.exponential(1.0, n) / mu * DAY
    interests = rng.dirichlet(np.full(len(CATEGORIES), 0.4), n)
    # Engagement propensity: mean `email_open` of delivered while alive (Beta(2, 2/p - 2) has mean p).
    email_prop = rng.beta(2.0, 2.0 / rates.email_open - 2.0, n)
    prefs = rng.dirichlet((3.0, 1.5, 1.5), n)
    source = rng.choice(len(SOURCES), n, p=SOURCE_WEIGHTS)
    country = rng.choice(len(COUNTRIES), n, p=conventions.country_weights)
    two_emails = rng.random(n) < rates.people_with_two_emails
    subscribed = rng.random(n) < rates.email_subscribers
    subscribed_at = acquired_at + rng.exponential(20 * DAY, n)
    wants_account = rng.random(n) < 0.45
    registration_at = acquired_at + rng.exponential(30 * DAY, n)
    # Sales talks to people who buy big and often: CRM membership leans on lambda.
    crm_weight = np.clip(lam / lam_mean, 0.2, 5.0)
    crm = rng.random(n) < rates.crm_contact_people * crm_weight / crm_weight.mean()
    trade = crm & (rng.random(n) < 0.12)
    n_web = 1 + rng.poisson(0.8, n)
    has_app = rng.random(n) < np.clip(prefs[:, 1] * 2.0, 0, 1)
    phone_digits = rng.integers(0, 10, (n, 10))
    # Drawn but unused: loyalty numbers come from the serial (below). Keeping the draw keeps every later
    # draw, and so every seed's world, as it was.
    rng.integers(10_000_000, 99_999_999, n)
    name_ix = rng.integers(0, 20, (n, 2))
    city_ix = rng.integers(0, 4, n)
    domains = DOMAIN_SETS[conventions.personal_domains]
    domain_ix = rng.integers(0, len(domains["US"]), (n, 2))
    second_is_work = rng.random(n) < 0.6
    # Draws the dev conventions do not make (one style, no nicknames) come last, and only when a knob asks
    # for them: the dev world's stream of draws, and so the dev world, stays as it was.
    styles = [style for style, _ in conventions.email_styles]
    style_ix = (rng.choice(len(styles), n, p=[w for _, w in conventions.email_styles]) if len(styles) > 1
                else np.zeros(n, dtype=int))
    by_nickname = (rng.random(n) < conventions.nickname_share if conventions.nickname_share > 0
                   else np.zeros(n, dtype=bool))

    people = []
    for i in range(n):
        c = COUNTRIES[country[i]]
        first, last = FIRST_NAMES[c][name_ix[i, 0]], LAST_NAMES[c][name_ix[i, 1]]
        if by_nickname[i]:
            first = NICKNAMES.get(first, first)
        serial = int(serials[i])
        emails = [styled_email(styles[style_ix[i]], first, last, serial, domains[c][domain_ix[i, 0]])]
        if two_emails[i]:
            # alt draws provider indices up to 8, WORK_DOMAINS has 5; dev's (below 4) are left as they were
            domain = (WORK_DOMAINS[domain_ix[i, 1] % len(WORK_DOMAINS)] if second_is_work[i]
                      else domains[c][domain_ix[i, 1]])
            emails.append(styled_email(conventions.second_email_style, first, last, serial, domain))
        # In dev half of web devices would sign in once their owner has an account; with accounts for about
        # 60% of people that leaves ~70% of web devices never logged in.
        devices = [{"id": device_uuid(rng, False), "kind": "web", "lib": "web",
                    "logs_in": bool(rng.random() < conventions.web_login_share)}
                   for _ in range(n_web[i])]
        if has_app[i]:
            lib = "iphone" if rng.random() < 0.55 else "android"
            devices.append({"id": device_uuid(rng, lib == "iphone"), "kind": "app", "lib": lib})
        people.append({
            "person_id": f"P{serial:08d}",
            "country": c,
            "first_name": first,
            "last_name": last,
            "city": CITIES[c][city_ix[i]][0],
            "zip": CITIES[c][city_ix[i]][1],
            "emails": emails,
            "phone": e164_phone(c, "".join(map(str, phone_digits[i]))),
            "loyalty_number": loyalty_number(serial),
            "lam": float(lam[i]),
            "mu": float(mu[i]),
            "acquired_at": float(acquired_at[i]),
            "dropout_at": float(dropout_at[i]),
            "interests": [round(float(x), 6) for x in interests[i]],
            "email_propensity": float(email_prop[i]),
            "prefs": [float(x) for x in prefs[i]],
            "source": SOURCES[source[i]],
            "fbclid": f"IwAR{hex_id(rng, 12)}" if SOURCES[source[i]] == "paid_social" else None,
            "devices": devices,
            "wants_account": bool(wants_account[i]),
            "registration_at": float(registration_at[i]),
            "customer_id": None,
            "customer_created": None,
            "customer_updated": None,
            "profile_id": None,
            "profile_created": None,
            "profile_updated": None,
            "subscribed": bool(subscribed[i]),
            "subscribed_at": float(subscribed_at[i]),
            "unsubscribed_at": None,
            "crm": bool(crm[i]),
            "trade": bool(trade[i]),
            "contacts": [],
            "deals": [],
            "company_id": None,
            "family_email_of": None,
            "orders": 0,
            "spent": 0.0,
            "first_order_at": None,
            "last_order_at": None,
            "sessions": 0,
        })
    return people


def pair_family_and_devices(rng: np.random.Generator, rates: Rates, people: list[dict],
                            conventions: Conventions = DEV) -> None:
    """Households: a few people share one email with a partner; a few devices are used by a second person,
    the partner's by the partner as often as the conventions say."""
    n = len(people)
    if n < 4:
        return
    n_pairs = int(round(n * rates.family_email_people / 2))
    order = rng.permutation(n)
    partner: dict[int, int] = {}
    for k in range(n_pairs):
        partner[int(order[2 * k])], partner[int(order[2 * k + 1])] = int(order[2 * k + 1]), int(order[2 * k])
        a, b = people[order[2 * k]], people[order[2 * k + 1]]
        # b reads and writes a's mailbox too; b keeps any address of their own as a second one
        b["emails"] = [a["emails"][0]] + b["emails"][1:]
        b["family_email_of"] = a["person_id"]
        b["country"], b["city"], b["zip"] = a["country"], a["city"], a["zip"]
    all_devices = [(i, d) for i, p in enumerate(people) for d in p["devices"]]
    shared = rng.random(len(all_devices)) < rates.shared_devices
    for (i, device), is_shared in zip(all_devices, shared, strict=True):
        if is_shared:
            j = int(rng.integers(0, n - 1))
            j = j + 1 if j >= i else j
            # drawn only for someone with a partner and a share above 0, so dev draws as before
            if i in partner and conventions.device_shared_with_partner > 0 \
                    and rng.random() < conventions.device_shared_with_partner:
                j = partner[i]
            device["shared_with"] = people[j]["person_id"]
            people[j].setdefault("borrowed_devices", []).append(dict(device, owner=people[i]["person_id"]))
