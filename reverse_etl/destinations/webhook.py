"""A generic webhook destination, and the alerts the engine sends when a sync fails.

Rows go as JSON batches of 100 to `destinations.webhook.url` (plus the sync's `target` as a path, when it
has one): `{"sync", "operation", "rows": [{"key", "identity", "fields"}]}`. Every batch carries an
`Idempotency-Key` derived from its content, so a receiver can drop a batch it already has (one whose answer
was lost and that the next run sends again). The same client posts alerts to `destinations.webhook.alert_url`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from ingestion.http import SourceConfigurationError, VendorUnavailableError
from reverse_etl.destinations.base import BatchResult, Destination, Outcome, PlannedRow
from reverse_etl.settings import destination_session, required_setting, setting

BATCH = 100
REFUSED = {401: "destinations.webhook.token", 403: "destinations.webhook.token"}
log = logging.getLogger(__name__)


def _session(url: str):
    session = destination_session("webhook", urlsplit(url).netloc, REFUSED)
    token = setting("webhook", "token", secret=True)
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def idempotency_key(sync: str, op: str, rows: list[PlannedRow]) -> str:
    content = json.dumps([sync, op, [(row.key, row.payload) for row in rows]], sort_keys=True, default=str)
    return hashlib.sha256(content.encode()).hexdigest()


class Webhook(Destination):
    vendor = "webhook"
    identity = ("customer_id", "email")
    required_any = ("customer_id",)
    batch_sizes = {"add": BATCH, "change": BATCH, "remove": BATCH}

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        super().__init__(target, fields, sync_name)
        base = required_setting("webhook", "url").rstrip("/")
        self.url = f"{base}/{target.strip('/')}" if target else base
        self.session = _session(self.url)

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        body = {"sync": self.sync_name, "operation": op,
                "rows": [{"key": row.key, **row.payload} for row in rows]}
        try:
            response = self.session.post(self.url, json=body,
                                         headers={"Idempotency-Key": idempotency_key(self.sync_name, op, rows)})
        except VendorUnavailableError as error:
            return BatchResult([Outcome(row.key, False, str(error)) for row in rows])
        if not 200 <= response.status_code < 300:
            error = f"webhook answered HTTP {response.status_code}: {response.text[:200]}"
            return BatchResult([Outcome(row.key, False, error) for row in rows])
        return BatchResult([Outcome(row.key, True) for row in rows])


def send_alert(message: str, details: dict) -> bool:
    """Post a failure alert when `destinations.webhook.alert_url` is set; True when it was delivered.

    An alert that cannot be delivered is logged, never raised: it must not hide the failure it reports.
    """
    url = setting("webhook", "alert_url")
    if not url:
        return False
    try:
        response = _session(url).post(url, json={"text": message, **details})
        return 200 <= response.status_code < 300
    except (VendorUnavailableError, SourceConfigurationError) as error:
        log.warning("alert not delivered to the alert webhook: %s", error)
        return False
