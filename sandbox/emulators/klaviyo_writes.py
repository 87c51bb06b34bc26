"""Klaviyo's write API (revision 2026-07-15) over the sandbox's destination state; mounted by klaviyo.py.

Operations, with bodies as in Klaviyo's OpenAPI (shared/reference/klaviyo/stable.json):
- `POST /api/profile-bulk-import-jobs` (bulk_import_profiles): at most 10,000 profiles and 5 MB (400 and 413
  beyond), answered 202 with the job. Profiles match by email (case-insensitive), then phone_number, then
  external_id, against the world's profiles and those the API created, so an existing person keeps their
  id; properties merge (a key sent as null, or named in `meta.patch_properties.unset`, is removed). A
  profile without a valid identifier (email x@y.z, phone E.164 `+digits`, or external_id) becomes an import
  error. Profiles are applied when the job is created; the job reports `queued`, then `processing`, for
  JOB_SECONDS and `complete` after, and lists its profiles and errors once complete.
- `GET /api/profile-bulk-import-jobs/{id}`, `.../{id}/import-errors`, `.../{id}/relationships/profiles`,
  `.../{id}/profiles`: the job, its errors and its profiles, cursor-paged (`page[size]` at most 100).
- `POST /api/lists` (create_list) -> 201; `POST` / `DELETE /api/lists/{id}/relationships/profiles`
  (add/remove_profiles_from_list): at most 1,000 profiles, 204, idempotent; unknown list 404, unknown
  profile 400. `GET /api/lists/{id}/relationships/profiles` pages the members by joined_group_at.
- Each operation has its own burst and steady limits (the spec's: 10/s and 150/m for these writes).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import string
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext
from sandbox.emulators.destinations import insert_rows, iso_time
from sandbox.emulators.faults import REJECT_ROWS_SCOPE_KEY
from sandbox.emulators.klaviyo import JSON_API, VENDOR, KlaviyoError, Throttle, error_response, invalid

# How long a bulk import job reports queued/processing before it is complete (tests may lower it).
JOB_SECONDS = 0.2
JOB_EXPIRES_SECONDS = 7 * 24 * 3600
MAX_PROFILES_PER_JOB = 10_000
MAX_JOB_BYTES = 5 * 1024 * 1024
MAX_LIST_MEMBERS_PER_CALL = 1_000
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100
IDENTIFIERS = ("email", "phone_number", "external_id")
# Profile attributes kept besides the identifiers and properties (the rest of ProfileUpsertQueryResourceObject).
OTHER_ATTRIBUTES = ("first_name", "last_name", "organization", "locale", "title", "image", "location")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class RateLimit:
    burst_per_second: int
    steady_per_minute: int


# The spec's limits per operation (each operation has its own allowance in Klaviyo).
RATE_LIMITS = {
    "bulk_import_profiles": RateLimit(10, 150),
    "get_bulk_import_profiles_job": RateLimit(10, 150),
    "get_errors_for_bulk_import_profiles_job": RateLimit(10, 150),
    "get_profile_ids_for_bulk_import_profiles_job": RateLimit(10, 150),
    "get_profiles_for_bulk_import_profiles_job": RateLimit(10, 150),
    "create_list": RateLimit(10, 150),
    "add_profiles_to_list": RateLimit(10, 150),
    "remove_profiles_from_list": RateLimit(10, 150),
    "get_profile_ids_for_list": RateLimit(75, 750),
}


# -- pure rules -------------------------------------------------------------------------------------------


def new_id(now: float | None = None) -> str:
    """A ULID, the form of Klaviyo's profile and job ids (26 Crockford base-32 characters, time first)."""
    value = (int((now if now is not None else time.time()) * 1000) << 80) | int.from_bytes(os.urandom(10))
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def profile_problem(attributes: dict) -> tuple[str, str] | None:
    """(field, detail) when Klaviyo would refuse this profile of an import; None when it is importable."""
    email, phone = attributes.get("email"), attributes.get("phone_number")
    if email is not None and (not isinstance(email, str) or not EMAIL.match(email.strip())):
        return "email", f"Invalid email address: {email!r}."
    if phone is not None and (not isinstance(phone, str) or not E164.match(phone.strip())):
        return "phone_number", f"Invalid phone number: {phone!r} is not in E.164 format (e.g. +15005550006)."
    if not any(attributes.get(name) for name in IDENTIFIERS):
        return "email", "A profile needs an email, phone_number or external_id."
    return None


def merge_properties(current: dict, sent: dict | None, unset: list[str] | str | None = None) -> dict:
    """Klaviyo's upsert of custom properties: sent keys overwrite, a key sent as null or unset goes away."""
    merged = dict(current)
    for key, value in (sent or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    for key in [unset] if isinstance(unset, str) else unset or []:
        merged.pop(key, None)
    return merged


def job_status(created_at: float, now: float, seconds: float) -> str:
    elapsed = now - created_at
    if elapsed >= seconds:
        return "complete"
    return "queued" if elapsed < seconds / 2 else "processing"


def encode_cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(raw: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except ValueError:
        raise invalid("Invalid page cursor.", "page[cursor]") from None


def page_size(params) -> int:
    raw = params.get("page[size]", str(PAGE_SIZE_DEFAULT))
    if not re.fullmatch(r"\d+", raw) or not 1 <= int(raw) <= PAGE_SIZE_MAX:
        raise invalid(f"Page size must be an integer between 1 and {PAGE_SIZE_MAX}.", "page[size]")
    return int(raw)


def parse_import(payload: Any) -> tuple[list[dict], list[str]]:
    """The profiles (resource objects) and list ids of a bulk import body; raises Klaviyo's 400."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict) or data.get("type") != "profile-bulk-import-job":
        raise body_error("The body must be {'data': {'type': 'profile-bulk-import-job', 'attributes': ...}}.")
    profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
    if not isinstance(profiles, list) or not profiles:
        raise body_error("'attributes.profiles.data' must be a non-empty list of profiles.",
                         "/data/attributes/profiles/data")  # fmt: skip
    if len(profiles) > MAX_PROFILES_PER_JOB:
        raise body_error(f"A bulk import job takes at most {MAX_PROFILES_PER_JOB} profiles; this one has "
                         f"{len(profiles)}. Split it into several jobs.", "/data/attributes/profiles/data")  # fmt: skip
    for index, profile in enumerate(profiles):
        if (
            not isinstance(profile, dict)
            or profile.get("type") != "profile"
            or not isinstance(profile.get("attributes"), dict)
        ):
            raise body_error("Each profile must be {'type': 'profile', 'attributes': {...}}.",
                             f"/data/attributes/profiles/data/{index}")  # fmt: skip
    lists = ((data.get("relationships") or {}).get("lists") or {}).get("data") or []
    if not isinstance(lists, list) or any(not isinstance(x, dict) or x.get("type") != "list" for x in lists):
        raise body_error("relationships.lists.data must be a list of {'type': 'list', 'id': ...}.",
                         "/data/relationships/lists/data")  # fmt: skip
    return profiles, [str(item.get("id")) for item in lists]


def parse_members(payload: Any) -> list[str]:
    """Profile ids of a list membership body `{"data": [{"type": "profile", "id": ...}]}`."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list) or not data:
        raise body_error("The body must be {'data': [{'type': 'profile', 'id': ...}, ...]}.")
    if len(data) > MAX_LIST_MEMBERS_PER_CALL:
        raise body_error(f"At most {MAX_LIST_MEMBERS_PER_CALL} profiles per call; this one has {len(data)}.")
    for index, item in enumerate(data):
        if not isinstance(item, dict) or item.get("type") != "profile" or not isinstance(item.get("id"), str):
            raise body_error("Each item must be {'type': 'profile', 'id': '<profile id>'}.", f"/data/{index}")
    return list(dict.fromkeys(item["id"] for item in data))


def body_error(detail: str, pointer: str = "/data") -> KlaviyoError:
    return KlaviyoError(400, "invalid", "Invalid input.", detail, {"pointer": pointer})


def not_found(what: str, identifier: str) -> KlaviyoError:
    return KlaviyoError(404, "not_found", "Not found.", f"A {what} with id {identifier} does not exist.",
                        {"pointer": "/data/id"})  # fmt: skip


# -- the routes -------------------------------------------------------------------------------------------


def routes(ctx: EmulatorContext, authenticate, api_root) -> list[Route]:
    """The write routes, sharing the read side's authentication and link roots."""
    store, world = ctx.destinations, ctx.store
    throttles = {name: Throttle(limit, ctx) for name, limit in RATE_LIMITS.items()}

    def guarded(route: str, operation: str, handler):
        async def endpoint(request: Request) -> Response:
            ctx.requests.record(VENDOR, request.method, route)
            try:
                authenticate(request)
                throttled = throttles[operation].check()
                if throttled:
                    return error_response(*throttled)
                return await handler(request)
            except KlaviyoError as error:
                return error_response(error)

        return endpoint

    async def json_body(request: Request, limit: int | None = None) -> Any:
        raw = await request.body()
        if limit is not None and len(raw) > limit:
            raise KlaviyoError(413, "request_too_large", "Request entity too large.",
                               f"The request body is {len(raw)} bytes; the maximum is {limit} (5 MB).")  # fmt: skip
        try:
            return json.loads(raw or b"null")
        except ValueError:
            raise body_error("The request body is not valid JSON.") from None

    def jobs_url(request: Request, job_id: str, tail: str = "") -> str:
        return f"{api_root(request)}/api/profile-bulk-import-jobs/{job_id}/{tail}"

    def job_resource(request: Request, row: tuple, as_accepted: bool = False) -> dict:
        job_id, created_at, total, completed, failed, list_ids = row
        # The 202 answer describes the job as it was accepted (queued), however slow the machine was to answer.
        status = job_status(created_at, created_at if as_accepted else time.time(), JOB_SECONDS)
        done = status == "complete"
        attributes = {
            "status": status,
            "created_at": iso_time(created_at),
            "total_count": total,
            "completed_count": completed if done else 0,
            "failed_count": failed if done else 0,
            "completed_at": iso_time(created_at + JOB_SECONDS) if done else None,
            "expires_at": iso_time(created_at + JOB_EXPIRES_SECONDS),
            "started_at": iso_time(created_at + JOB_SECONDS / 2) if status != "queued" else None,
        }
        relationships = {
            "lists": {"data": [{"type": "list", "id": i} for i in json.loads(list_ids)]},
            "profiles": {"links": {"self": jobs_url(request, job_id, "relationships/profiles"),
                                   "related": jobs_url(request, job_id, "profiles")}},
            "import-errors": {"links": {"related": jobs_url(request, job_id, "import-errors")}},
        }  # fmt: skip
        return {"type": "profile-bulk-import-job", "id": job_id, "attributes": attributes,
                "relationships": relationships, "links": {"self": jobs_url(request, job_id)}}  # fmt: skip

    def load_job(job_id: str) -> tuple:
        rows = store.fetch("select id, created_at, total_count, completed_count, failed_count, list_ids "
                           "from klaviyo_jobs where id = ?", [job_id])  # fmt: skip
        if not rows:
            raise not_found("profile-bulk-import-job", job_id)
        return rows[0]

    # -- bulk import --------------------------------------------------------------------------------------

    async def bulk_import(request: Request) -> Response:
        profiles, list_ids = parse_import(await json_body(request, MAX_JOB_BYTES))
        reject_every = request.scope.get(REJECT_ROWS_SCOPE_KEY)
        job_id = await run_in_threadpool(import_profiles, profiles, list_ids, reject_every)
        job = job_resource(request, load_job(job_id), as_accepted=True)
        body = {"data": job, "links": {"self": jobs_url(request, job_id)}}
        return JSONResponse(body, status_code=202, media_type=JSON_API)

    def import_profiles(profiles: list[dict], list_ids: list[str], reject_every: int | None) -> str:
        now = time.time()
        missing = [i for i in list_ids if not list_exists(i)]
        if missing:
            raise body_error(f"The list {missing[0]} does not exist: create it first (POST /api/lists).",
                             "/data/relationships/lists/data")  # fmt: skip
        job_id = new_id(now)
        errors, accepted = [], []
        for index, profile in enumerate(profiles):
            attributes = profile["attributes"]
            problem = profile_problem(attributes)
            if problem is None and reject_every and (index + 1) % reject_every == 0:
                problem = ("email", "The profile was refused by the destination (sandbox fault reject_rows).")
            if problem:
                field, detail = problem
                errors.append({"job_id": job_id, "seq": len(errors), "id": str(uuid.uuid4()), "code": "invalid",
                               "title": "Invalid input.", "detail": detail,
                               "pointer": f"/data/attributes/profiles/data/{index}/attributes/{field}",
                               "original_payload": json.dumps(attributes)})  # fmt: skip
            else:
                accepted.append(profile)
        with store.transaction() as cursor:
            profile_ids = upsert_profiles(cursor, accepted, now)
            insert_rows(cursor, "klaviyo_jobs", [{
                "id": job_id, "created_at": now, "total_count": len(profiles), "completed_count": len(accepted),
                "failed_count": len(errors), "list_ids": json.dumps(list_ids)}])  # fmt: skip
            insert_rows(cursor, "klaviyo_job_profiles",
                        [{"job_id": job_id, "seq": n, "profile_id": p} for n, p in enumerate(profile_ids)])  # fmt: skip
            insert_rows(cursor, "klaviyo_job_errors", errors)
            for list_id in list_ids:
                add_list_members(cursor, list_id, list(dict.fromkeys(profile_ids)), now)
        return job_id

    def upsert_profiles(cursor, profiles: list[dict], now: float) -> list[str]:
        """Match each profile to a known one (or a new id), merge, write; the id of each input, in order."""
        sent = [p["attributes"] for p in profiles]
        emails = sorted({a["email"].strip().lower() for a in sent if a.get("email")})
        phones = sorted({a["phone_number"].strip() for a in sent if a.get("phone_number")})
        externals = sorted({str(a["external_id"]) for a in sent if a.get("external_id")})
        known: dict[str, dict] = {}
        written = set()
        for row in cursor.execute(
            "select id, email, phone_number, external_id, attributes, properties, created_at from klaviyo_profiles "
            "where lower(email) in (select unnest(?::varchar[])) or phone_number in (select unnest(?::varchar[])) "
            "or external_id in (select unnest(?::varchar[]))",
            [emails, phones, externals],
        ).fetchall():
            known[row[0]] = {"id": row[0], "email": row[1], "phone_number": row[2], "external_id": row[3],
                             "attributes": json.loads(row[4]), "properties": json.loads(row[5]),
                             "created_at": row[6]}  # fmt: skip
            written.add(row[0])
        for world_id, email, phone, external in world_profiles(emails, phones, externals):
            # A world profile already written through the API is known by its written state.
            known.setdefault(world_id, {"id": world_id, "email": email, "phone_number": phone, "external_id": external,
                                        "attributes": {}, "properties": {}, "created_at": now})  # fmt: skip
        index: dict[tuple[str, str], str] = {}
        # Profiles written through the API go last, so their identifiers win over stale world ones.
        for profile in sorted(known.values(), key=lambda p: p["id"] in written):
            remember(index, profile)
        touched: dict[str, dict] = {}
        ids = []
        for attributes in sent:
            match = next((index[key] for key in identity_keys(attributes) if key in index), None)
            profile = known.get(match) if match else None
            if profile is None:
                profile = {"id": new_id(now), "email": None, "phone_number": None, "external_id": None,
                           "attributes": {}, "properties": {}, "created_at": now}  # fmt: skip
                known[profile["id"]] = profile
            for name in IDENTIFIERS:
                if attributes.get(name):
                    profile[name] = str(attributes[name]).strip()
            for name in OTHER_ATTRIBUTES:
                if attributes.get(name) is not None:
                    profile["attributes"][name] = attributes[name]
            patch = ((attributes.get("meta") or {}).get("patch_properties") or {}).get("unset")
            profile["properties"] = merge_properties(
                profile["properties"], attributes.get("properties"), patch
            )
            remember(index, profile)
            touched[profile["id"]] = profile
            ids.append(profile["id"])
        if touched:
            cursor.execute(
                "delete from klaviyo_profiles where id in (select unnest(?::varchar[]))", [list(touched)]
            )
            insert_rows(cursor, "klaviyo_profiles", [
                {**p, "attributes": json.dumps(p["attributes"]), "properties": json.dumps(p["properties"]),
                 "updated_at": now} for p in touched.values()])  # fmt: skip
        return ids

    def world_profiles(emails: list[str], phones: list[str], externals: list[str]) -> list[tuple]:
        attr = "json_extract_string(body, '$.attributes.{}')".format
        return world.query(
            VENDOR, "profiles",
            f"select id, {attr('email')}, {attr('phone_number')}, {attr('external_id')} from records "
            f"where lower({attr('email')}) in (select unnest(?::varchar[])) "
            f"or {attr('phone_number')} in (select unnest(?::varchar[])) "
            f"or {attr('external_id')} in (select unnest(?::varchar[]))",
            [emails, phones, externals],
        )  # fmt: skip

    async def get_job(request: Request) -> Response:
        job_id = request.path_params["job_id"]
        row = await run_in_threadpool(load_job, job_id)
        return JSONResponse({"data": job_resource(request, row), "links": {"self": str(request.url)}},
                            media_type=JSON_API)  # fmt: skip

    def job_page(request: Request, sql: str) -> tuple[list[tuple], dict]:
        """One page of a job's rows keyed by `seq` (`sql` selects seq first, takes job id, after, limit)."""
        job_id = request.path_params["job_id"]
        row = load_job(job_id)
        size = page_size(request.query_params)
        raw = request.query_params.get("page[cursor]")
        after = decode_cursor(raw) if raw else -1
        complete = job_status(row[1], time.time(), JOB_SECONDS) == "complete"
        rows = store.fetch(sql, [job_id, after, size + 1]) if complete else []
        return rows[:size], links(request, rows[size - 1][0] if len(rows) > size else None)

    async def job_errors(request: Request) -> Response:
        rows, page_links = await run_in_threadpool(
            job_page, request, "select seq, id, code, title, detail, pointer, original_payload from "
            "klaviyo_job_errors where job_id = ? and seq > ? order by seq limit ?")  # fmt: skip
        data = [{"type": "import-error", "id": error_id,
                 "attributes": {"code": code, "title": title, "detail": detail, "source": {"pointer": pointer},
                                "original_payload": json.loads(payload)}}
                for _, error_id, code, title, detail, pointer, payload in rows]  # fmt: skip
        return JSONResponse({"data": data, "links": page_links}, media_type=JSON_API)

    async def job_profile_ids(request: Request) -> Response:
        rows, page_links = await run_in_threadpool(
            job_page,
            request,
            "select seq, profile_id from klaviyo_job_profiles where job_id = ? and seq > ? order by seq limit ?",
        )
        data = [{"type": "profile", "id": profile_id} for _, profile_id in rows]
        return JSONResponse({"data": data, "links": page_links}, media_type=JSON_API)

    async def job_profiles(request: Request) -> Response:
        rows, page_links = await run_in_threadpool(
            job_page, request,
            "select j.seq, p.id, p.email, p.phone_number, p.external_id, p.attributes, p.properties, p.created_at, "
            "p.updated_at from klaviyo_job_profiles j join klaviyo_profiles p on p.id = j.profile_id "
            "where j.job_id = ? and j.seq > ? order by j.seq limit ?")  # fmt: skip
        root = api_root(request)
        data = []
        for _, pid, email, phone, external, attributes, properties, created, updated in rows:
            data.append({"type": "profile", "id": pid,
                         "attributes": {"email": email, "phone_number": phone, "external_id": external,
                                        **json.loads(attributes), "properties": json.loads(properties),
                                        "created": iso_time(created), "updated": iso_time(updated)},
                         "links": {"self": f"{root}/api/profiles/{pid}/"}})  # fmt: skip
        return JSONResponse({"data": data, "links": page_links}, media_type=JSON_API)

    def links(request: Request, next_key: Any) -> dict:
        params = {k: v for k, v in request.query_params.items() if k != "page[cursor]"}
        base = str(request.url.remove_query_params(list(request.query_params.keys())))
        result = {"self": str(request.url)}
        if next_key is not None:
            result["next"] = f"{base}?{urlencode({**params, 'page[cursor]': encode_cursor(next_key)})}"
        if request.query_params.get("page[cursor]"):
            result["prev"] = f"{base}?{urlencode(params)}" if params else base
        return result

    # -- lists ----------------------------------------------------------------------------------------------

    def list_exists(list_id: str) -> bool:
        if store.fetch("select 1 from klaviyo_lists where id = ?", [list_id]):
            return True
        return bool(world.query(VENDOR, "lists", "select 1 from records where id = ?", [list_id]))

    async def create_list(request: Request) -> Response:
        payload = await json_body(request)
        data = payload.get("data") if isinstance(payload, dict) else None
        attributes = data.get("attributes") if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("type") != "list" or not isinstance(attributes, dict):
            raise body_error("The body must be {'data': {'type': 'list', 'attributes': {'name': ...}}}.")
        name = attributes.get("name")
        if not isinstance(name, str) or not name.strip():
            raise body_error("A list needs a non-empty 'name'.", "/data/attributes/name")
        opt_in = attributes.get("opt_in_process") or "single_opt_in"
        if opt_in not in ("single_opt_in", "double_opt_in"):
            raise body_error("'opt_in_process' must be single_opt_in or double_opt_in.",
                             "/data/attributes/opt_in_process")  # fmt: skip
        now = time.time()
        list_id = "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(6)
        )  # like Y6nRLr
        row = {"id": list_id, "name": name, "opt_in_process": opt_in, "created_at": now, "updated_at": now}
        with store.transaction() as cursor:
            insert_rows(cursor, "klaviyo_lists", [row])
        resource = list_body(row) | {"links": {"self": f"{api_root(request)}/api/lists/{row['id']}/"}}
        return JSONResponse({"data": resource, "links": {"self": resource["links"]["self"]}}, status_code=201,
                            media_type=JSON_API)  # fmt: skip

    def member_ids_checked(list_id: str, profile_ids: list[str]) -> None:
        if not list_exists(list_id):
            raise not_found("list", list_id)
        known = {i for (i,) in store.fetch(
            "select id from klaviyo_profiles where id in (select unnest(?::varchar[]))", [profile_ids])}  # fmt: skip
        rest = [i for i in profile_ids if i not in known]
        if rest:
            known |= {i for (i,) in world.query(
                VENDOR, "profiles", "select id from records where id in (select unnest(?::varchar[]))",
                [rest])}  # fmt: skip
        unknown = [i for i in profile_ids if i not in known]
        if unknown:
            raise body_error(f"The profile {unknown[0]} does not exist"
                             f"{f' (nor do {len(unknown) - 1} more)' if len(unknown) > 1 else ''}.",
                             "/data")  # fmt: skip

    async def change_members(request: Request) -> Response:
        list_id = request.path_params["list_id"]
        profile_ids = parse_members(await json_body(request))

        def apply() -> None:
            member_ids_checked(list_id, profile_ids)
            with store.transaction() as cursor:
                if request.method == "POST":
                    add_list_members(cursor, list_id, profile_ids, time.time())
                else:
                    cursor.execute("delete from klaviyo_list_members where list_id = ? and profile_id in "
                                   "(select unnest(?::varchar[]))", [list_id, profile_ids])  # fmt: skip

        await run_in_threadpool(apply)
        return Response(status_code=204)

    async def list_member_ids(request: Request) -> Response:
        list_id = request.path_params["list_id"]
        params = request.query_params
        sort = params.get("sort", "joined_group_at")
        if sort not in ("joined_group_at", "-joined_group_at"):
            raise invalid("'sort' must be joined_group_at or -joined_group_at.", "sort")
        size = page_size(params)
        raw = params.get("page[cursor]")

        def page() -> list[tuple]:
            if not list_exists(list_id):
                raise not_found("list", list_id)
            direction, compare = ("desc", "<") if sort.startswith("-") else ("asc", ">")
            after = decode_cursor(raw) if raw else None
            where = f"and (joined_at, profile_id) {compare} (?, ?)" if after else ""
            return store.fetch(
                f"select joined_at, profile_id from klaviyo_list_members where list_id = ? {where} "
                f"order by joined_at {direction}, profile_id {direction} limit ?",
                [list_id, *(after or []), size + 1],
            )

        rows = await run_in_threadpool(page)
        next_key = list(rows[size - 1]) if len(rows) > size else None
        data = [{"type": "profile", "id": profile_id} for _, profile_id in rows[:size]]
        return JSONResponse({"data": data, "links": links(request, next_key)}, media_type=JSON_API)

    jobs, members = "/api/profile-bulk-import-jobs", "/api/lists/{list_id}/relationships/profiles"
    table = [
        (jobs, ["POST"], "bulk_import_profiles", bulk_import),
        (f"{jobs}/{{job_id}}", ["GET"], "get_bulk_import_profiles_job", get_job),
        (f"{jobs}/{{job_id}}/import-errors", ["GET"], "get_errors_for_bulk_import_profiles_job", job_errors),
        (f"{jobs}/{{job_id}}/relationships/profiles", ["GET"], "get_profile_ids_for_bulk_import_profiles_job",
         job_profile_ids),
        (f"{jobs}/{{job_id}}/profiles", ["GET"], "get_profiles_for_bulk_import_profiles_job", job_profiles),
        ("/api/lists", ["POST"], "create_list", create_list),
        (members, ["POST"], "add_profiles_to_list", change_members),
        (members, ["DELETE"], "remove_profiles_from_list", change_members),
        (members, ["GET"], "get_profile_ids_for_list", list_member_ids),
    ]  # fmt: skip
    result = []
    for path, methods, operation, handler in table:
        # Klaviyo answers with and without the trailing slash; its SDKs send it.
        endpoint = guarded(f"{path}/", operation, handler)
        result += [Route(path, endpoint, methods=methods), Route(f"{path}/", endpoint, methods=methods)]
    return result


def identity_keys(attributes: dict) -> list[tuple[str, str]]:
    """The lookup keys of a profile, in Klaviyo's matching order: email, phone number, external id."""
    keys = []
    if attributes.get("email"):
        keys.append(("email", str(attributes["email"]).strip().lower()))
    if attributes.get("phone_number"):
        keys.append(("phone_number", str(attributes["phone_number"]).strip()))
    if attributes.get("external_id"):
        keys.append(("external_id", str(attributes["external_id"])))
    return keys


def remember(index: dict[tuple[str, str], str], profile: dict) -> None:
    for key in identity_keys(profile):
        index[key] = profile["id"]


def add_list_members(cursor, list_id: str, profile_ids: list[str], now: float) -> None:
    """Add members not already in the list (adding twice keeps one membership and its first join time)."""
    if not profile_ids:
        return
    cursor.execute(
        "insert into klaviyo_list_members select ?, p, ? from unnest(?::varchar[]) as t(p) "
        "where p not in (select profile_id from klaviyo_list_members where list_id = ?)",
        [list_id, now, profile_ids, list_id],
    )


def list_body(row: dict) -> dict:
    return {"type": "list", "id": row["id"],
            "attributes": {"name": row["name"], "created": iso_time(row["created_at"]),
                           "updated": iso_time(row["updated_at"]),
                           "opt_in_process": row["opt_in_process"]}}  # fmt: skip


def created_lists(ctx: EmulatorContext) -> list[tuple]:
    """Lists created through the API as world records (id, created_at, updated_at, body text), so the read
    endpoints (`GET /api/lists`, filters, paging) serve them beside the world's lists."""
    if ctx.destinations is None:
        return []
    rows = ctx.destinations.fetch(
        "select id, name, opt_in_process, created_at, updated_at from klaviyo_lists"
    )
    result = []
    for list_id, name, opt_in, created, updated in rows:
        body = list_body({"id": list_id, "name": name, "opt_in_process": opt_in, "created_at": created,
                          "updated_at": updated})  # fmt: skip
        result.append((list_id, datetime.fromtimestamp(created, UTC), datetime.fromtimestamp(updated, UTC),
                       json.dumps(body)))  # fmt: skip
    return result
