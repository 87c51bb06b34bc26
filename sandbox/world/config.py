"""World sizes and the default rates of the synthetic world, each one traced to the product brief.

The dirt rates are the sandbox's own defaults from docs/product.md ("Realistic dirt"); the behaviour rates
come from its "Rates worth calibrating" paragraph (commonly cited industry figures). `stats.world_stats`
prints every one of them beside the rate actually measured in a generated world.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

DEFAULT_AS_OF = datetime(2026, 10, 1, tzinfo=UTC)
HISTORY_DAYS = 730
# People per chunk: a worker simulating one chunk of the earliest (busiest) people of `large` peaked at
# about 0.5 GB; 50,000 a chunk had reached 8.8 GB. `small` (3,000) stays one chunk.
CHUNK_PEOPLE = 5_000

SIZES: dict[str, int] = {
    "tiny": 300,  # tests: generated in a few seconds
    "small": 3_000,  # the demo
    "medium": 100_000,
    "large": 1_000_000,  # benchmarks: ~50M analytics events
}

COUNTRIES = ("US", "GB", "DE")
CATEGORIES = ("sofas", "beds", "tables", "lighting", "rugs", "storage", "decor", "outdoor", "kitchen", "office")


@dataclass(frozen=True)
class Rates:
    # --- dirt (product.md, "Realistic dirt": the sandbox's default rates) ---
    # "25% of people have two or more emails"
    people_with_two_emails: float = 0.25
    # "15% of phone values are written in a local, non-E.164 form"
    phone_local_form: float = 0.15
    # "6% of CRM contacts are duplicates of another contact"
    crm_duplicate_contacts: float = 0.06
    # "3% of households share one email between two people" (counted as the share of people in such a pair)
    family_email_people: float = 0.03
    # "2% of devices are used by two people"
    shared_devices: float = 0.02
    # "1% of records carry a junk value"
    junk_records: float = 0.01
    # "70% of web devices never log in"
    web_devices_never_log_in: float = 0.70
    # "40% of POS orders carry no email, only a phone or loyalty number"
    pos_orders_without_email: float = 0.40
    # "5% of analytics events arrive late, up to 72 hours"
    late_events: float = 0.05
    late_events_max_hours: float = 72.0

    # --- behaviour (product.md, "Rates worth calibrating") ---
    # "about 70% of carts are abandoned (Baymard Institute's average)"
    cart_abandonment: float = 0.70
    # "2-3% of e-commerce sessions convert"
    session_conversion: float = 0.025
    # "marketing emails see roughly 20-40% opens ... of those delivered" (mean of the engagement propensity)
    email_open: float = 0.30
    # "... and 2-3% clicks of those delivered"
    email_click: float = 0.025
    # "a few tenths of a percent unsubscribe per send"
    email_unsubscribe: float = 0.003
    # "only a minority of first-time buyers buy again within a year" (an upper bound the world must respect)
    repeat_within_year_max: float = 0.5
    # "Refunds on a few percent of orders" (task brief)
    order_refund: float = 0.04

    # --- the generative process (BG/NBD-like; not brief figures, chosen so a furniture shop looks right) ---
    # purchase rate lambda ~ Gamma(shape, mean/shape) per day: furniture is bought about once a year
    purchase_rate_shape: float = 0.7
    purchase_rate_mean_per_year: float = 1.0
    # dropout hazard mu ~ Gamma: mean lifetime about 14 months
    dropout_rate_shape: float = 2.0
    dropout_rate_mean_per_year: float = 0.85
    # browsing after dropout falls to this share of the alive intensity
    browsing_after_dropout: float = 0.05
    # share of people who became CRM contacts (design consultations, leads, trade accounts)
    crm_contact_people: float = 0.15
    # share of people who subscribed to email marketing
    email_subscribers: float = 0.60
    # share of subscribers each campaign is sent to (campaigns are segmented)
    campaign_audience: float = 0.25

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_RATES = Rates()


@dataclass(frozen=True)
class Conventions:
    """How a world's people write themselves down and share: the knobs a second world varies so identity
    resolution is measured on conventions it was not developed on (`generate_world(..., conventions=...)`).

    Every knob's value in "dev" reproduces the world the generator made before conventions existed, draw for
    draw: a knob with a single option or a zero share draws nothing, so the dev world stays byte-identical.
    """

    name: str
    # the people's countries, weights in the order of COUNTRIES
    country_weights: tuple[float, ...] = (0.55, 0.25, 0.20)
    # a person's own address: (template, weight) pairs over {first} {last} {f} (first initial) and {serial};
    # the serial keeps every address one person's, as a mailbox is
    email_styles: tuple[tuple[str, float], ...] = (("{first}.{last}{serial}", 1.0),)
    # the second address of people with two
    second_email_style: str = "{f}{last}{serial}"
    # personal mail providers per country (identity.PERSONAL_DOMAINS in dev); all of one length per world
    personal_domains: str = "dev"
    # share of people who go by a nickname of their first name (Bob for Robert): on every record and in
    # their addresses; only names identity.NICKNAMES knows have one
    nickname_share: float = 0.0
    # share of web devices whose owner signs in on them once they have an account (app devices always do)
    web_login_share: float = 0.5
    # share of a household partner's shared devices that the other partner uses (else a random person)
    device_shared_with_partner: float = 0.0
    # the dirt and behaviour rates of this world
    rates: Rates = field(default_factory=Rates)

    def as_dict(self) -> dict:
        return asdict(self)


# "alt": shares within the product brief's spirit, conventions the dev world never shows. Households share
# twice as much (3% -> 8% of people in a family-email pair, 2% -> 4% of devices, mostly the partner's), fewer
# web visitors sign in (about 90% of web devices never log in, 79% in dev), more local phone forms, more people with two
# addresses, more junk; more GB and DE people; addresses styled jsmith123@, smith.john123@, john_smith123@
# and by nickname; twice the mail providers, country domains among them (yahoo.co.uk, googlemail.com, gmx.net).
ALT_CONVENTIONS = Conventions(
    name="alt",
    country_weights=(0.30, 0.35, 0.35),
    email_styles=(("{first}.{last}{serial}", 0.25), ("{f}{last}{serial}", 0.25), ("{last}.{first}{serial}", 0.2),
                  ("{first}_{last}{serial}", 0.15), ("{last}{f}{serial}", 0.15)),
    second_email_style="{first}{serial}.{last}",
    personal_domains="alt",
    nickname_share=0.35,
    web_login_share=0.25,
    device_shared_with_partner=0.7,
    rates=replace(Rates(), people_with_two_emails=0.35, phone_local_form=0.25, family_email_people=0.08,
                  shared_devices=0.04, junk_records=0.02, web_devices_never_log_in=0.90),
)
CONVENTIONS: dict[str, Conventions] = {"dev": Conventions(name="dev"), "alt": ALT_CONVENTIONS}
DEFAULT_CONVENTIONS = "dev"


def conventions_for(name: str) -> Conventions:
    if name not in CONVENTIONS:
        raise ValueError(f"unknown world conventions {name!r}; choose one of {', '.join(CONVENTIONS)}")
    return CONVENTIONS[name]


def people_for(size: str) -> int:
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; choose one of {', '.join(SIZES)}")
    return SIZES[size]
