"""Klaviyo as a destination (JSON:API, revision 2026-07-15; ../shared/reference/klaviyo/stable.json).

- `klaviyo_profiles`: profile properties (traits, scores, segment flags) by bulk import jobs — up to 10,000
  profiles and 5 MB a job, asynchronous: the job is polled until it completes, then its import errors say
  which profiles were refused. Removing a row clears the properties it set (a null removes a property).
- `klaviyo_list`: list membership. Klaviyo adds and removes list members by profile id, so the members are
  upserted first (a bulk import job, which also keeps their email and phone current), the job's profiles give
  the ids, and the ids go to the list at most 1,000 per call. Removing uses the id learned when the member
  was added (kept in syncs.sync_state), so a removal needs no lookup.

Rows are matched to imported profiles by email: Klaviyo identifies a profile by email first.
"""

from __future__ import annotations

import time
from typing import Any

from ingestion.http import VendorSession
from reverse_etl.destinations.base import BatchResult, Destination, DestinationError, Outcome, PlannedRow
from reverse_etl.settings import account_of, destination_session, required_setting, setting

REVISION = "2026-07-15"
IMPORT_BATCH = 10_000
LIST_BATCH = 1_000
PAGE_SIZE = 100
JOB_POLL_SECONDS = 0.5  # first poll; doubles up to JOB_POLL_MAX_SECONDS while the job runs
JOB_POLL_MAX_SECONDS = 10.0
JOB_TIMEOUT_SECONDS = 1800.0
REFUSED = {
    401: "destinations.klaviyo.api_key (a private API key)",
    403: "the private key's scopes: profiles:write and lists:write",
}


class KlaviyoApiError(DestinationError):
    """The vendor refused a call; a whole batch refused this way stops the delivery (the rows stay unconfirmed)."""

    def __init__(self, what: str, status: int, body: Any):
        errors = body.get("errors") if isinstance(body, dict) else None
        detail = "; ".join(str(e.get("detail") or e.get("title")) for e in errors or [] if isinstance(e, dict))
        super().__init__(f"Klaviyo {what} answered HTTP {status}: {detail or str(body)[:300]}")
        self.status = status


class KlaviyoClient:
    def __init__(self, sleep=time.sleep):
        self.root = required_setting("klaviyo", "base_url").rstrip("/")
        api_key = required_setting("klaviyo", "api_key", secret=True)
        self.revision = setting("klaviyo", "revision", REVISION)
        self.session: VendorSession = destination_session("klaviyo", account_of(api_key), REFUSED)
        self.session.headers.update({
            "Authorization": f"Klaviyo-API-Key {api_key}", "revision": self.revision,
            "accept": "application/vnd.api+json", "content-type": "application/vnd.api+json",
        })
        self.sleep = sleep

    def call(self, method: str, path: str, body: dict | None = None, params: dict | None = None) -> dict:
        url = path if path.startswith("http") else f"{self.root}{path}"
        response = self.session.request(method, url, json=body, params=params)
        what = f"{method} {path.split('?')[0]}"
        if response.status_code == 204:
            return {}
        try:
            answer = response.json()
        except ValueError:
            answer = {"errors": [{"detail": response.text[:300]}]}
        if not 200 <= response.status_code < 300:
            raise KlaviyoApiError(what, response.status_code, answer)
        return answer

    def pages(self, path: str, params: dict) -> list[dict]:
        answer = self.call("GET", path, params=params)
        records = list(answer.get("data", []))
        while next_url := (answer.get("links") or {}).get("next"):
            answer = self.call("GET", next_url)
            records += answer.get("data", [])
        return records

    # -- bulk import --------------------------------------------------------------------------------------

    def import_profiles(self, profiles: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
        """Upsert profiles in one job; returns (email -> profile id, email -> import error)."""
        body = {"data": {"type": "profile-bulk-import-job", "attributes": {"profiles": {"data": [
            {"type": "profile", "attributes": attributes} for attributes in profiles]}}}}
        job = self.call("POST", "/api/profile-bulk-import-jobs", body)["data"]
        self._wait(job["id"])
        errors = {}
        for error in self.pages(f"/api/profile-bulk-import-jobs/{job['id']}/import-errors", {"page[size]": PAGE_SIZE}):
            attributes = error.get("attributes", {})
            email = str((attributes.get("original_payload") or {}).get("email") or "").strip().lower()
            errors[email] = attributes.get("detail") or attributes.get("title") or "refused by Klaviyo"
        ids = {}
        for profile in self.pages(f"/api/profile-bulk-import-jobs/{job['id']}/profiles",
                                  {"page[size]": PAGE_SIZE, "fields[profile]": "email"}):
            email = (profile.get("attributes") or {}).get("email")
            if email:
                ids[email.strip().lower()] = profile["id"]
        return ids, errors

    def _wait(self, job_id: str) -> None:
        waited, pause = 0.0, JOB_POLL_SECONDS
        while waited < JOB_TIMEOUT_SECONDS:
            status = self.call("GET", f"/api/profile-bulk-import-jobs/{job_id}")["data"]["attributes"]["status"]
            if status == "complete":
                return
            if status in ("cancelled", "failed"):
                raise KlaviyoApiError(f"bulk import job {job_id}", 200, {"errors": [{"detail": f"job {status}"}]})
            self.sleep(pause)
            waited += pause
            pause = min(pause * 2, JOB_POLL_MAX_SECONDS)
        raise KlaviyoApiError(f"bulk import job {job_id}", 200,
                              {"errors": [{"detail": f"still running after {JOB_TIMEOUT_SECONDS:.0f} s"}]})

    # -- lists ----------------------------------------------------------------------------------------------

    def list_id(self, name: str) -> str:
        """The list named `name`, created when missing."""
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        found = self.call("GET", "/api/lists", params={"filter": f'equals(name,"{escaped}")'}).get("data", [])
        if found:
            return found[0]["id"]
        return self.call("POST", "/api/lists", {"data": {"type": "list", "attributes": {"name": name}}})["data"]["id"]

    def change_members(self, method: str, list_id: str, profile_ids: list[str]) -> None:
        body = {"data": [{"type": "profile", "id": profile_id} for profile_id in profile_ids]}
        self.call(method, f"/api/lists/{list_id}/relationships/profiles", body)


def _profile(row: PlannedRow, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    identity = row.payload["identity"]
    attributes: dict[str, Any] = {"email": identity.get("email")}
    for ours, theirs in (("phone", "phone_number"), ("first_name", "first_name"), ("last_name", "last_name")):
        if identity.get(ours):
            attributes[theirs] = identity[ours]
    if properties is not None:
        attributes["properties"] = properties
    return attributes


def _email(row: PlannedRow) -> str:
    return str(row.payload["identity"].get("email") or "").strip().lower()


def _import(client: KlaviyoClient, rows: list[PlannedRow], profiles: list[dict]) -> tuple[list[Outcome], dict]:
    """Import `profiles` (one per row); the outcome of each row and the ids of those imported."""
    ids, errors = client.import_profiles(profiles)
    outcomes, imported = [], {}
    for row in rows:
        email = _email(row)
        if email in errors:
            outcomes.append(Outcome(row.key, False, f"Klaviyo import error: {errors[email]}"))
        elif email in ids:
            imported[row.key] = ids[email]
        else:
            outcomes.append(Outcome(row.key, False, "Klaviyo's import job did not return this profile"))
    return outcomes, imported


class KlaviyoProfiles(Destination):
    vendor = "klaviyo"
    identity = ("customer_id", "email", "phone", "first_name", "last_name")
    required_any = ("email",)
    exists_sql = "sr.source = 'klaviyo' and sr.record_type = 'profile'"
    batch_sizes = {"add": IMPORT_BATCH, "change": IMPORT_BATCH, "remove": IMPORT_BATCH}

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        super().__init__(target, fields, sync_name)
        if not fields:
            raise DestinationError("klaviyo_profiles syncs need `fields` (profile property -> model column).")
        self.client = KlaviyoClient()

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        if op == "remove":
            profiles = [_profile(row, {name: None for name in self.fields}) for row in rows]
        else:
            profiles = [_profile(row, row.payload.get("fields", {})) for row in rows]
        outcomes, imported = _import(self.client, rows, profiles)
        outcomes += [Outcome(key, True, destination_id=profile_id) for key, profile_id in imported.items()]
        return BatchResult(outcomes)


class KlaviyoList(Destination):
    vendor = "klaviyo"
    identity = ("customer_id", "email", "phone", "first_name", "last_name")
    required_any = ("email",)
    consent_channel = "email"
    exists_sql = "sr.source = 'klaviyo' and sr.record_type = 'profile'"
    batch_sizes = {"add": IMPORT_BATCH, "change": IMPORT_BATCH, "remove": IMPORT_BATCH}

    def __init__(self, target: str, fields: dict[str, str], sync_name: str = ""):
        super().__init__(target, fields, sync_name)
        self.client = KlaviyoClient()
        self.list = None

    def prepare(self) -> None:
        self.list = self.client.list_id(self.target)

    def write(self, op: str, rows: list[PlannedRow], encoded: Any = None) -> BatchResult:
        if op == "remove":
            return BatchResult(self._members("DELETE", {row.key: row.destination_id for row in rows}))
        outcomes, imported = _import(self.client, rows, [_profile(row) for row in rows])
        outcomes += self._members("POST", imported)
        # A member whose email changed may now be another Klaviyo profile: the old one leaves the list.
        stale = {row.key: row.destination_id for row in rows
                 if op == "change" and row.destination_id and imported.get(row.key) not in (None, row.destination_id)}
        failed_stale = {o.key for o in self._members("DELETE", stale) if not o.ok}
        return BatchResult([o if o.key not in failed_stale else Outcome(o.key, False, "old profile not removed")
                            for o in outcomes])

    def _members(self, method: str, ids: dict[str, str | None]) -> list[Outcome]:
        outcomes = [Outcome(key, False, "no Klaviyo profile id known for this member")
                    for key, profile_id in ids.items() if not profile_id]
        known = [(key, profile_id) for key, profile_id in ids.items() if profile_id]
        for start in range(0, len(known), LIST_BATCH):
            chunk = known[start:start + LIST_BATCH]
            try:
                self.client.change_members(method, self.list, [profile_id for _, profile_id in chunk])
                outcomes += [Outcome(key, True, destination_id=profile_id) for key, profile_id in chunk]
            except KlaviyoApiError as error:
                outcomes += [Outcome(key, False, str(error)) for key, _ in chunk]
        return outcomes
