"""World sizes and the default rates of the synthetic world, each one traced to the product brief.

The dirt rates are the sandbox's own defaults from docs/product.md ("Realistic dirt"); the behaviour rates
come from its "Rates worth calibrating" paragraph (commonly cited industry figures). `stats.world_stats`
prints every one of them beside the rate actually measured in a generated world.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
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


def people_for(size: str) -> int:
    if size not in SIZES:
        raise ValueError(f"unknown world size {size!r}; choose one of {', '.join(SIZES)}")
    return SIZES[size]
