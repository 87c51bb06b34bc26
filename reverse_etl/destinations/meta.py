"""Meta custom audiences as a destination (Marketing API; ../shared/reference/contracts.md).

The audience named by the sync's `target` is created in the ad account when missing. Members go in with a
multi-key schema (email, phone, first and last name), every value normalised and SHA-256 hashed by Meta's
rules (reverse_etl.hashing), at most 10,000 rows a request: `POST /{audience}/users` adds, `DELETE` removes,
and a changed member is removed under the values last sent, then added under the new ones (Meta matches on
the values, so the old ones would otherwise stay). A full resync replaces the audience with `usersreplace`
in one session. Meta reports only a count of invalid entries, not which; rows are validated before they are
hashed, and a row with no usable value is refused here with the reason.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from ingestion.meta.helpers import GraphClient, MetaApiError
from reverse_etl.destinations.base import BatchResult, Destination, Outcome, PlannedRow
from reverse_etl.hashing import meta_row
from reverse_etl.settings import destination_session, required_setting, setting

SCHEMA = ["EMAIL", "PHONE", "FN", "LN"]
IDENTITY_OF = {"EMAIL": "email", "PHONE": "phone", "FN": "first_name", "LN": "last_name"}
BATCH = 10_000
DEFAULT_API_VERSION = "v23.0"
REFUSED = {401: "destinations.meta.access_token (a system-user token with ads_management)"}


class MetaCustomAudience(Destination):
    vendor = "meta"
    identity = ("customer_id", "email", "phone", "first_name", "last_name")
    required_any = ("email", "phone")
    # Meta's terms require consent to use the data for ads; no system here records an ads consent, so
    # marketing email consent stands for it.
    consent_channel = "email"
    batch_sizes = {"add": BATCH, "change": BATCH, "remove": BATCH}
    can_replace = True

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        super().__init__(target, fields, sync_name)
        self.account = required_setting("meta", "ad_account_id").removeprefix("act_")
        self.region = setting("meta", "default_phone_region", "US")
        self.client = GraphClient(
            required_setting("meta", "base_url"), setting("meta", "api_version", DEFAULT_API_VERSION),
            required_setting("meta", "access_token", secret=True), setting("meta", "app_secret", secret=True),
            session=destination_session("meta", self.account, REFUSED),
        )
        self.audience = None
        self.replace_session: dict | None = None

    def prepare(self) -> None:
        for page in self.client.pages(f"act_{self.account}/customaudiences", {"fields": "id,name", "limit": 100}):
            for audience in page:
                if audience.get("name") == self.target:
                    self.audience = audience["id"]
                    return
        created = self.client.call("POST", f"act_{self.account}/customaudiences", {
            "name": self.target, "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY",
            "description": "Managed by the CDP sync engine: membership follows the segment."})
        self.audience = created["id"]

    def begin_replace(self, total: int) -> None:
        """The next adds replace the audience (a full resync): one usersreplace session over all batches."""
        self.replace_session = {"session_id": secrets.randbelow(2**53), "batch_seq": 0, "estimated_num_total": total,
                                "sent": 0}

    def hashed(self, payload: dict) -> list[str]:
        identity = payload["identity"]
        return meta_row(SCHEMA, {key: identity.get(IDENTITY_OF[key]) for key in SCHEMA}, self.region)

    def encode(self, op: str, rows: list[PlannedRow]) -> tuple[list, list[Outcome], list[list[str]]]:
        """Hash the batch: (usable rows with their values, refusals, the old values of changed rows)."""
        usable, refused = [], []
        for row in rows:
            values = self.hashed(row.payload)
            if any(values):
                usable.append((row, values))
            else:
                refused.append(Outcome(row.key, False, "no valid email or phone after Meta's normalisation"))
        old = [self.hashed(row.previous) for row, _ in usable if op == "change" and row.previous]
        return usable, refused, old

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        usable, outcomes, old = encoded or self.encode(op, rows)
        if not usable:
            return BatchResult(outcomes)
        notes = {}
        try:
            if old:
                self._send("DELETE", "users", old)
            if op == "remove":
                answer = self._send("DELETE", "users", [values for _, values in usable])
            elif self.replace_session is not None:
                answer = self._send_replace([values for _, values in usable], len(rows))
            else:
                answer = self._send("POST", "users", [values for _, values in usable])
            notes["num_invalid_entries"] = int(answer.get("num_invalid_entries") or 0)
        except MetaApiError as error:
            return BatchResult(outcomes + [Outcome(row.key, False, str(error)) for row, _ in usable])
        outcomes += [Outcome(row.key, True, destination_id=self.audience) for row, _ in usable]
        return BatchResult(outcomes, notes)

    def _send(self, method: str, edge: str, data: list[list[str]], session: dict | None = None) -> dict:
        fields = {"payload": json.dumps({"schema": SCHEMA, "data": data})}
        if session:
            fields["session"] = json.dumps(session)
        return self.client.call(method, f"{self.audience}/{edge}", fields)

    def _send_replace(self, data: list[list[str]], rows_in_batch: int) -> dict:
        state = self.replace_session
        state["batch_seq"] += 1
        state["sent"] += rows_in_batch  # rows refused before sending count too, or the last batch never comes
        session = {"session_id": state["session_id"], "batch_seq": state["batch_seq"],
                   "estimated_num_total": state["estimated_num_total"],
                   "last_batch_flag": state["sent"] >= state["estimated_num_total"]}
        return self._send("POST", "usersreplace", data, session)
