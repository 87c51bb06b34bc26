"""HubSpot CRM v3 as a destination (../shared/reference/contracts.md).

- `hubspot_contacts`: contact properties (traits, scores, segment flags). The sync's custom properties are
  created when missing (`POST /crm/v3/properties/contacts`, in group `cdp`), then contacts are upserted by
  email, 100 a call (`batch/upsert`); a 207 answer names the inputs it refused, which fail alone. Removing a
  row clears the properties the sync set.
- `hubspot_tasks`: call tasks for contact owners, one per key of the model. HubSpot's task creation is not
  idempotent, so every task carries its key in the custom property `cdp_task_key`, and each batch first
  searches for the keys that already exist (a batch whose answer was lost, or a run killed after sending)
  and creates only the others. The create call is never retried blindly: a failed attempt goes back to the
  search.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from ingestion.http import TransientError, VendorUnavailableError, with_retries
from ingestion.hubspot.helpers import hubspot_problem
from reverse_etl.destinations.base import BatchResult, Destination, DestinationError, Outcome, PlannedRow
from reverse_etl.settings import account_of, destination_policy, destination_session, required_setting

BATCH = 100
PROPERTY_GROUP = "contactinformation"
TASK_KEY_PROPERTY = "cdp_task_key"
TASK_TO_CONTACT = 204  # HubSpot-defined association type: task -> contact
REFUSED = {
    401: "destinations.hubspot.access_token (a private app token, or expired)",
    403: "the private app's scopes: crm.objects.contacts.write, crm.schemas.contacts.write, crm.objects.tasks",
}


class HubSpotApiError(DestinationError):
    """The vendor refused a call; a whole batch refused this way stops the delivery (the rows stay unconfirmed)."""

    def __init__(self, what: str, status: int, body: Any):
        message = body.get("message") if isinstance(body, dict) else None
        super().__init__(f"HubSpot {what} answered HTTP {status}: {message or str(body)[:300]}")
        self.status, self.body = status, body


class HubSpotClient:
    def __init__(self, max_attempts: int | None = None):
        self.root = required_setting("hubspot", "base_url").rstrip("/")
        token = required_setting("hubspot", "access_token", secret=True)
        self.session = destination_session("hubspot", account_of(token), REFUSED, classify=hubspot_problem,
                                           max_attempts=max_attempts)
        self.session.headers.update({"Authorization": f"Bearer {token}"})

    def call(self, method: str, path: str, body: dict | None = None, accept: tuple[int, ...] = ()) -> tuple[int, dict]:
        response = self.session.request(method, f"{self.root}{path}", json=body)
        try:
            answer = response.json()
        except ValueError:
            answer = {"message": response.text[:300]}
        if not (200 <= response.status_code < 300 or response.status_code in accept):
            raise HubSpotApiError(f"{method} {path}", response.status_code, answer)
        return response.status_code, answer

    def ensure_properties(self, object_type: str, names: dict[str, str]) -> None:
        """Create the custom properties (name -> HubSpot type) this sync writes, when missing."""
        _, existing = self.call("GET", f"/crm/v3/properties/{object_type}")
        have = {p["name"] for p in existing.get("results", [])}
        for name, kind in sorted(names.items()):
            if name in have:
                continue
            field_type = "number" if kind == "number" else "text"
            self.call("POST", f"/crm/v3/properties/{object_type}", {
                "name": name, "label": name.replace("_", " ").capitalize(), "type": kind,
                "fieldType": field_type, "groupName": PROPERTY_GROUP,
                "description": "Written by the CDP sync engine."}, accept=(409,))


def _text(value: Any) -> str:
    """HubSpot property values are strings; a cleared property is the empty string."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _email(row: PlannedRow) -> str:
    """The email a contact row is upserted by: the CRM contact's own when the warehouse knows it."""
    identity = row.payload["identity"]
    return str(identity.get("crm_contact_email") or identity["email"]).strip().lower()


class HubSpotContacts(Destination):
    vendor = "hubspot"
    # crm_contact_email: the live contact's own email, so an upsert by email lands on that contact and never
    # on a contact HubSpot merged away (whose email the person's profile may still prefer).
    identity = ("customer_id", "email", "crm_contact_email")
    required_any = ("email",)
    exists_sql = "sr.source = 'hubspot' and sr.record_type = 'contact'"
    batch_sizes = {"add": BATCH, "change": BATCH, "remove": BATCH}

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        super().__init__(target, fields, sync_name)
        if not fields:
            raise DestinationError("hubspot_contacts syncs need `fields` (contact property -> model column).")
        self.client = HubSpotClient()

    def prepare(self) -> None:
        # Every value is sent as text: HubSpot stores strings, and a text property never refuses a number.
        self.client.ensure_properties("contacts", {name: "string" for name in self.fields})

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        by_email = {_email(row): row for row in rows}
        inputs = []
        for email, row in by_email.items():
            values = {name: None for name in self.fields} if op == "remove" else row.payload.get("fields", {})
            inputs.append({"idProperty": "email", "id": email,
                           "properties": {name: _text(value) for name, value in values.items()}})
        try:
            status, answer = self.client.call("POST", "/crm/v3/objects/contacts/batch/upsert", {"inputs": inputs},
                                              accept=(207,))
        except HubSpotApiError as error:
            return BatchResult([Outcome(row.key, False, str(error)) for row in rows])
        refused: dict[str, str] = {}
        for error in answer.get("errors", []) if status == 207 else []:
            for email in (error.get("context") or {}).get("ids", []):
                refused[str(email).strip().lower()] = f"{error.get('category')}: {error.get('message')}"
        ids = {str((r.get("properties") or {}).get("email", "")).lower(): r.get("id") for r in answer.get("results", [])}
        outcomes = []
        for email, row in by_email.items():
            if email in refused:
                outcomes.append(Outcome(row.key, False, refused[email]))
            else:
                outcomes.append(Outcome(row.key, True, destination_id=ids.get(email)))
        # Two keys with one email share one contact: the second is refused rather than silently merged.
        outcomes += [Outcome(row.key, False, "another row of this sync has the same email")
                     for row in rows if by_email[_email(row)] is not row]
        return BatchResult(outcomes)


class HubSpotTasks(Destination):
    """One task per key; `fields` map task properties (hs_task_subject, hs_task_body, hs_timestamp,
    hs_task_priority, ...) to model columns. The owner is the contact's CRM owner unless a field sets it."""

    vendor = "hubspot"
    identity = ("customer_id", "crm_contact_id", "crm_owner_id")
    required_any = ("crm_contact_id",)
    operations = ("add",)
    batch_sizes = {"add": BATCH}

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        super().__init__(target, fields, sync_name)
        if "hs_task_subject" not in fields:
            raise DestinationError("hubspot_tasks syncs need fields.hs_task_subject (the task's title column).")
        # Creating is retried by going back to the search, never by resending (see the module docstring).
        self.client = HubSpotClient()
        self.create_client = HubSpotClient(max_attempts=1)

    def prepare(self) -> None:
        self.client.ensure_properties("tasks", {TASK_KEY_PROPERTY: "string"})

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        policy = destination_policy("hubspot")

        def attempt() -> dict[str, str]:
            existing = self._existing([row.key for row in rows])
            missing = [row for row in rows if row.key not in existing]
            if missing:
                try:
                    _, answer = self.create_client.call("POST", "/crm/v3/objects/tasks/batch/create",
                                                        {"inputs": [self._task(row) for row in missing]})
                except (requests.ConnectionError, requests.Timeout, VendorUnavailableError) as error:
                    raise TransientError(f"task batch create: {str(error)[:200]}") from None
                for task in answer.get("results", []):
                    existing[(task.get("properties") or {}).get(TASK_KEY_PROPERTY)] = task.get("id")
            return existing

        try:
            created = with_retries("hubspot", policy, "POST /crm/v3/objects/tasks/batch/create", attempt)
        except (HubSpotApiError, VendorUnavailableError) as error:
            return BatchResult([Outcome(row.key, False, str(error)) for row in rows])
        return BatchResult([
            Outcome(row.key, True, destination_id=created[row.key]) if created.get(row.key)
            else Outcome(row.key, False, "HubSpot did not return the created task") for row in rows])

    def _existing(self, keys: list[str]) -> dict[str, str]:
        _, answer = self.client.call("POST", "/crm/v3/objects/tasks/search", {
            "filterGroups": [{"filters": [{"propertyName": TASK_KEY_PROPERTY, "operator": "IN", "values": keys}]}],
            "properties": [TASK_KEY_PROPERTY], "limit": BATCH})
        return {(t.get("properties") or {}).get(TASK_KEY_PROPERTY): t["id"] for t in answer.get("results", [])}

    def _task(self, row: PlannedRow) -> dict:
        identity = row.payload["identity"]
        properties = {name: _text(value) for name, value in row.payload.get("fields", {}).items()}
        properties.setdefault("hs_task_status", "NOT_STARTED")
        properties.setdefault("hs_task_type", "CALL")
        # HubSpot requires a due date; without one from the model, the task is due when it is created.
        properties.setdefault("hs_timestamp", datetime.now(UTC).isoformat(timespec="milliseconds"))
        if identity.get("crm_owner_id"):
            properties.setdefault("hubspot_owner_id", str(identity["crm_owner_id"]))
        properties[TASK_KEY_PROPERTY] = row.key
        return {"properties": properties, "associations": [{
            "to": {"id": identity["crm_contact_id"]},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": TASK_TO_CONTACT}]}]}
