"""HubSpot CRM v3 writes over the sandbox's destination state; mounted by hubspot.py (same auth and limits).

- Properties: `GET /crm/v3/properties/{object}` lists the standard ones (HubSpot's defaults plus those the
  world's records carry) and those created through the API; `POST /crm/v3/properties/{object}` (name, label,
  type, fieldType, groupName) -> 201, a name already taken -> 409 OBJECT_ALREADY_EXISTS.
- `POST /crm/v3/objects/contacts/batch/upsert` (at most 100 inputs, `idProperty` email): an email the world
  knows keeps its contact id, another one gets a new contact. A property that does not exist, or is
  read-only, fails that input only: 207 with `errors` (context.ids = the input's id) and `numErrors`;
  200 when every input succeeded. Duplicate ids in one batch are refused whole, as HubSpot does.
- `POST /crm/v3/objects/tasks/batch/create` (at most 100 inputs; `hs_timestamp` required; associations to
  contacts with HUBSPOT_DEFINED type 204) -> 201. All or nothing: one bad input refuses the batch with 400.
  Not idempotent: the same input twice makes two tasks.
Tasks created here are also found by `POST /crm/v3/objects/tasks/search` (hubspot.py).
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.emulators.common import EmulatorContext
from sandbox.emulators.destinations import insert_rows
from sandbox.emulators.faults import REJECT_ROWS_SCOPE_KEY
from sandbox.emulators.hubspot import ASSOCIATION_TYPE_IDS, OBJECT_TYPES, VENDOR, _error, _validation_error

BATCH_MAX = 100
# Ids of records created through the API start here, far above the world's own (contacts from 100, engagements
# from 40,000,000,000), so the two never collide.
NEW_CONTACT_ID_BASE = 500_000_000_000
NEW_TASK_ID_BASE = 600_000_000_000
TASK_TO_CONTACT = ASSOCIATION_TYPE_IDS[("tasks", "contacts")]  # 204
PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool", "phone_number")
FIELD_TYPES = ("text", "textarea", "number", "date", "select", "radio", "checkbox", "booleancheckbox",
               "calculation_equation", "html", "file", "phonenumber")  # fmt: skip
PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# HubSpot's default properties the CDP touches: (name, label, type, fieldType, groupName, read-only value).
STANDARD_PROPERTIES = {
    "contacts": [
        ("email", "Email", "string", "text", "contactinformation", False),
        ("firstname", "First Name", "string", "text", "contactinformation", False),
        ("lastname", "Last Name", "string", "text", "contactinformation", False),
        ("phone", "Phone Number", "string", "phonenumber", "contactinformation", False),
        ("mobilephone", "Mobile Phone Number", "string", "phonenumber", "contactinformation", False),
        ("company", "Company Name", "string", "text", "contactinformation", False),
        ("city", "City", "string", "text", "contactinformation", False),
        ("zip", "Postal Code", "string", "text", "contactinformation", False),
        ("country", "Country/Region", "string", "text", "contactinformation", False),
        ("jobtitle", "Job Title", "string", "text", "contactinformation", False),
        ("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", "contactinformation", False),
        ("hs_lead_status", "Lead Status", "enumeration", "radio", "sales_properties", False),
        ("hubspot_owner_id", "Contact owner", "enumeration", "select", "sales_properties", False),
        (
            "hs_email_optout",
            "Unsubscribed from all email",
            "bool",
            "booleancheckbox",
            "contactinformation",
            False,
        ),
        ("createdate", "Create Date", "datetime", "date", "contactinformation", True),
        ("lastmodifieddate", "Last Modified Date", "datetime", "date", "contactinformation", True),
        ("hs_object_id", "Record ID", "number", "number", "contactinformation", True),
    ],
    "tasks": [
        ("hs_task_subject", "Task Title", "string", "text", "task", False),
        ("hs_task_body", "Task Notes", "string", "html", "task", False),
        ("hs_task_status", "Task Status", "enumeration", "select", "task", False),
        ("hs_task_priority", "Priority", "enumeration", "select", "task", False),
        ("hs_task_type", "Task Type", "enumeration", "select", "task", False),
        ("hs_timestamp", "Due date", "datetime", "date", "task", False),
        ("hubspot_owner_id", "Assigned to", "enumeration", "select", "task", False),
        ("hs_createdate", "Create date", "datetime", "date", "task", True),
        ("hs_lastmodifieddate", "Last modified date", "datetime", "date", "task", True),
        ("hs_object_id", "Record ID", "number", "number", "task", True),
    ],
}
READ_ONLY = {"createdate", "lastmodifieddate", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"}


# -- pure helpers --------------------------------------------------------------------------------------------


def hubspot_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def property_body(name: str, label: str, kind: str, field_type: str, group: str, read_only: bool,
                  created_at: float | None = None, options: list | None = None) -> dict:  # fmt: skip
    """A property as HubSpot's properties API returns it."""
    stamp = hubspot_time(created_at) if created_at is not None else None
    return {
        "name": name, "label": label, "type": kind, "fieldType": field_type, "groupName": group,
        "description": "", "options": options or [], "displayOrder": -1, "calculated": False,
        "externalOptions": False, "hasUniqueValue": name in ("email", "hs_object_id"), "hidden": False,
        "formField": not read_only, "archived": False, "createdAt": stamp, "updatedAt": stamp,
        "hubspotDefined": created_at is None,
        "modificationMetadata": {"archivable": created_at is not None, "readOnlyDefinition": created_at is None,
                                 "readOnlyValue": read_only},
    }  # fmt: skip


def property_problem(payload: Any) -> str | None:
    """Why HubSpot would refuse this property definition, or None."""
    if not isinstance(payload, dict):
        return "The request body must be a JSON object with name, label, type, fieldType and groupName."
    missing = [key for key in ("name", "label", "type", "fieldType", "groupName") if not payload.get(key)]
    if missing:
        return f"Property definition is missing required fields: {', '.join(missing)}."
    if not PROPERTY_NAME.match(str(payload["name"])):
        return f"Property name {payload['name']!r} must be lowercase letters, digits and underscores."
    if payload["type"] not in PROPERTY_TYPES:
        return f"Invalid type {payload['type']!r}: choose one of {', '.join(PROPERTY_TYPES)}."
    if payload["fieldType"] not in FIELD_TYPES:
        return f"Invalid fieldType {payload['fieldType']!r}: choose one of {', '.join(FIELD_TYPES)}."
    return None


def property_value(value: Any) -> str:
    """HubSpot keeps every property value as text; null clears it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unknown_property_error(object_type: str, names: list[str], input_id: str | None) -> dict:
    what = ", ".join(f'"{name}"' for name in names)
    error = {"status": "error", "category": "VALIDATION_ERROR",
             "message": f"Property values were not valid: {what} "
                        f"{'does' if len(names) == 1 else 'do'} not exist on {object_type} or cannot be written.",
             "context": {"propertyName": names}}  # fmt: skip
    if input_id is not None:
        error["context"]["ids"] = [input_id]
    return error


def batch_inputs(payload: Any) -> list:
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list) or not inputs:
        raise ValueError('The body must be {"inputs": [...]} with at least one input.')
    if len(inputs) > BATCH_MAX:
        raise ValueError(f"Batch input size {len(inputs)} exceeds the limit of {BATCH_MAX} inputs per call.")
    if not all(isinstance(item, dict) for item in inputs):
        raise ValueError("Each input must be a JSON object.")
    return inputs


# -- the routes ------------------------------------------------------------------------------------------


def routes(ctx: EmulatorContext, gate, ok) -> list[Route]:
    """The write routes, behind the read side's `gate` (auth, throttling) and answered through `ok`."""
    store, world = ctx.destinations, ctx.store

    def writable(object_type: str) -> set[str]:
        return {name for name, body in known_properties(object_type).items()
                if not body["modificationMetadata"]["readOnlyValue"]}  # fmt: skip

    def known_properties(object_type: str) -> dict[str, dict]:
        known = {row[0]: property_body(*row) for row in STANDARD_PROPERTIES.get(object_type, [])}
        # Whatever the world's records carry is standard in this portal (e.g. loyalty_number on contacts).
        for (name,) in world.query(VENDOR, object_type, "select distinct unnest(json_keys(body, '$.properties')) "
                                   "from (select body from records limit 100)"):  # fmt: skip
            known.setdefault(name, property_body(name, name.replace("_", " ").title(), "string", "text",
                                                 "sandbox_world", name in READ_ONLY))  # fmt: skip
        for (body,) in store.fetch("select body from hubspot_properties where object_type = ? order by created_at",
                                   [object_type]):  # fmt: skip
            created = json.loads(body)
            known[created["name"]] = created
        return known

    async def read_json(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError:
            raise ValueError("Invalid input JSON: the request body is not valid JSON") from None

    # -- properties ---------------------------------------------------------------------------------------

    async def list_properties(request: Request) -> Response:
        object_type = request.path_params["object_type"]
        if refused := gate(request, "/crm/v3/properties/{object_type}"):
            return refused
        if object_type not in OBJECT_TYPES:
            return _validation_error(f"Unable to infer object type from: {object_type}")
        known = await run_in_threadpool(known_properties, object_type)
        return ok(request, {"results": list(known.values())})

    async def create_property(request: Request) -> Response:
        object_type = request.path_params["object_type"]
        if refused := gate(request, "/crm/v3/properties/{object_type}"):
            return refused
        if object_type not in OBJECT_TYPES:
            return _validation_error(f"Unable to infer object type from: {object_type}")
        try:
            payload = await read_json(request)
        except ValueError as problem:
            return _validation_error(str(problem))
        if problem := property_problem(payload):
            return _validation_error(problem)

        def create() -> dict | None:
            with store.transaction() as cursor:
                if payload["name"] in known_properties(object_type):
                    return None
                now = time.time()
                body = property_body(payload["name"], payload["label"], payload["type"], payload["fieldType"],
                                     payload["groupName"], False, now, payload.get("options"))  # fmt: skip
                body["description"] = str(payload.get("description") or "")
                insert_rows(cursor, "hubspot_properties", [{"object_type": object_type, "name": body["name"],
                                                            "body": json.dumps(body), "created_at": now}])  # fmt: skip
                return body

        body = await run_in_threadpool(create)
        if body is None:
            return _error(409, f"A property named '{payload['name']}' already exists on {object_type}.",
                          "OBJECT_ALREADY_EXISTS")  # fmt: skip
        return ok(request, body, status=201)

    # -- contacts -----------------------------------------------------------------------------------------

    async def upsert_contacts(request: Request) -> Response:
        if refused := gate(request, "/crm/v3/objects/contacts/batch/upsert"):
            return refused
        try:
            inputs = batch_inputs(await read_json(request))
            for item in inputs:
                if item.get("idProperty", "email") != "email":
                    raise ValueError(
                        f"idProperty {item.get('idProperty')!r} is not supported here: use email."
                    )
                if not isinstance(item.get("id"), str) or not item["id"].strip():
                    raise ValueError("Each input needs an `id`: the contact's email.")
                if not isinstance(item.get("properties", {}), dict):
                    raise ValueError("`properties` must be an object of property name -> value.")
            emails = [item["id"].strip().lower() for item in inputs]
            duplicates = sorted({e for e in emails if emails.count(e) > 1})
            if duplicates:
                raise ValueError(f"Duplicate IDs found in batch input: {duplicates}. Send each contact once.")
        except ValueError as problem:
            return _validation_error(str(problem))
        reject_every = request.scope.get(REJECT_ROWS_SCOPE_KEY)
        started = time.time()
        results, errors = await run_in_threadpool(apply_upserts, inputs, reject_every)
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body |= {"numErrors": len(errors), "errors": errors}
        body |= {"startedAt": hubspot_time(started), "completedAt": hubspot_time(time.time())}
        return ok(request, body, status=207 if errors else 200)

    def apply_upserts(inputs: list[dict], reject_every: int | None) -> tuple[list[dict], list[dict]]:
        allowed = writable("contacts")
        results, errors, accepted = [], [], []
        for index, item in enumerate(inputs):
            unknown = sorted(set(item.get("properties") or {}) - allowed)
            if unknown:
                errors.append(unknown_property_error("contacts", unknown, item["id"]))
            elif reject_every and (index + 1) % reject_every == 0:
                errors.append({"status": "error", "category": "VALIDATION_ERROR",
                               "message": "The contact was refused by the destination (sandbox fault reject_rows).",
                               "context": {"ids": [item["id"]]}})  # fmt: skip
            else:
                accepted.append(item)
        if not accepted:
            return results, errors
        now = time.time()
        emails = [item["id"].strip().lower() for item in accepted]
        with store.transaction() as cursor:
            written = {email: (cid, json.loads(props), created) for cid, email, props, created in cursor.execute(
                "select id, email, properties, created_at from hubspot_contacts where email in "
                "(select unnest(?::varchar[]))", [emails]).fetchall()}  # fmt: skip
            missing = [e for e in emails if e not in written]
            in_world = {email: (contact_id, created.timestamp()) for email, contact_id, created in world.query(
                VENDOR, "contacts",
                "select lower(json_extract_string(body, '$.properties.email')) as email, id, created_at from records "
                "where lower(json_extract_string(body, '$.properties.email')) in (select unnest(?::varchar[])) "
                # Two world contacts with one email: the oldest (last in this order) wins, as in HubSpot.
                "order by try_cast(id as bigint) desc",
                [missing])} if missing else {}  # fmt: skip
            next_id = cursor.execute("select coalesce(max(cast(id as bigint)), ?) + 1 from hubspot_contacts",
                                     [NEW_CONTACT_ID_BASE]).fetchone()[0]  # fmt: skip
            next_id = max(next_id, NEW_CONTACT_ID_BASE + 1)
            rows = []
            for item, email in zip(accepted, emails, strict=True):
                new = email not in written and email not in in_world
                if email in written:
                    contact_id, properties, created = written[email]
                elif email in in_world:
                    (contact_id, created), properties = in_world[email], {}
                else:
                    contact_id, properties, created, next_id = str(next_id), {}, now, next_id + 1
                properties = {**properties, "email": email,
                              **{k: property_value(v) for k, v in (item.get("properties") or {}).items()}}  # fmt: skip
                rows.append({"id": contact_id, "email": email, "properties": json.dumps(properties),
                             "created_at": created, "updated_at": now})  # fmt: skip
                shown = {**properties, "hs_object_id": contact_id, "createdate": hubspot_time(created),
                         "lastmodifieddate": hubspot_time(now)}  # fmt: skip
                results.append({"id": contact_id, "properties": shown, "createdAt": hubspot_time(created),
                                "updatedAt": hubspot_time(now), "archived": False, "new": new})  # fmt: skip
            cursor.execute(
                "delete from hubspot_contacts where email in (select unnest(?::varchar[]))", [emails]
            )
            insert_rows(cursor, "hubspot_contacts", rows)
        return results, errors

    # -- tasks --------------------------------------------------------------------------------------------

    async def create_tasks(request: Request) -> Response:
        if refused := gate(request, "/crm/v3/objects/tasks/batch/create"):
            return refused
        try:
            inputs = batch_inputs(await read_json(request))
        except ValueError as problem:
            return _validation_error(str(problem))
        reject_every = request.scope.get(REJECT_ROWS_SCOPE_KEY)
        started = time.time()
        outcome = await run_in_threadpool(apply_tasks, inputs, reject_every)
        if isinstance(outcome, str):
            return _validation_error(outcome)
        body = {"status": "COMPLETE", "results": outcome, "startedAt": hubspot_time(started),
                "completedAt": hubspot_time(time.time())}  # fmt: skip
        return ok(request, body, status=201)

    def task_problems(inputs: list[dict], allowed: set[str]) -> tuple[list[str], list[list[str]]]:
        """Every problem of the batch (HubSpot names them all) and each input's contact ids."""
        problems, contact_ids = [], []
        for index, item in enumerate(inputs):
            properties = item.get("properties")
            if not isinstance(properties, dict):
                problems.append(f"inputs[{index}]: `properties` must be an object.")
                properties = {}
            unknown = sorted(set(properties) - allowed)
            if unknown:
                problems.append(
                    f"inputs[{index}]: properties {unknown} do not exist on tasks or cannot be written."
                )
            if not properties.get("hs_timestamp"):
                problems.append(f"inputs[{index}]: hs_timestamp is required (the task's due date).")
            ids = []
            for association in item.get("associations") or []:
                target = (
                    (association or {}).get("to", {}).get("id") if isinstance(association, dict) else None
                )
                types = association.get("types") if isinstance(association, dict) else None
                if target is None or not isinstance(types, list) or not types:
                    problems.append(f"inputs[{index}]: an association needs `to.id` and `types`.")
                    continue
                for kind in types:
                    if (kind or {}).get("associationCategory") != "HUBSPOT_DEFINED" or (kind or {}).get(
                        "associationTypeId"
                    ) != TASK_TO_CONTACT:
                        problems.append(f"inputs[{index}]: association type {kind} is not task-to-contact "
                                        f"(HUBSPOT_DEFINED {TASK_TO_CONTACT}).")  # fmt: skip
                ids.append(str(target))
            contact_ids.append(ids)
        return problems, contact_ids

    def apply_tasks(inputs: list[dict], reject_every: int | None) -> list[dict] | str:
        problems, contact_ids = task_problems(inputs, writable("tasks"))
        wanted = sorted({i for ids in contact_ids for i in ids})
        if wanted:
            found = {i for (i,) in store.fetch("select id from hubspot_contacts where id in "
                                               "(select unnest(?::varchar[]))", [wanted])}  # fmt: skip
            found |= {i for (i,) in world.query(VENDOR, "contacts", "select id from records where id in "
                                                "(select unnest(?::varchar[]))", [wanted])}  # fmt: skip
            problems += [f"Contact {i} does not exist: tasks can only be associated with existing contacts."
                         for i in wanted if i not in found]  # fmt: skip
        if reject_every and len(inputs) >= reject_every:
            problems.append(
                f"inputs[{reject_every - 1}]: refused by the destination (sandbox fault reject_rows)."
            )
        if problems:
            return "Batch create failed, nothing was created: " + " ".join(problems)
        now = time.time()
        results, rows = [], []
        with store.transaction() as cursor:
            next_id = cursor.execute("select coalesce(max(cast(id as bigint)), ?) + 1 from hubspot_tasks",
                                     [NEW_TASK_ID_BASE]).fetchone()[0]  # fmt: skip
            for offset, (item, ids) in enumerate(zip(inputs, contact_ids, strict=True)):
                task_id = str(next_id + offset)
                properties = {k: property_value(v) for k, v in item["properties"].items()}
                rows.append({"id": task_id, "properties": json.dumps(properties), "contact_ids": json.dumps(ids),
                             "created_at": now, "updated_at": now})  # fmt: skip
                body = task_body(task_id, properties, ids, now, now)
                results.append(
                    {key: body[key] for key in ("id", "properties", "createdAt", "updatedAt", "archived")}
                )
            insert_rows(cursor, "hubspot_tasks", rows)
        return results

    return [
        Route("/crm/v3/properties/{object_type}", list_properties, methods=["GET"]),
        Route("/crm/v3/properties/{object_type}", create_property, methods=["POST"]),
        Route("/crm/v3/objects/contacts/batch/upsert", upsert_contacts, methods=["POST"]),
        Route("/crm/v3/objects/tasks/batch/create", create_tasks, methods=["POST"]),
    ]


def task_body(task_id: str, properties: dict, contact_ids: list[str], created: float, updated: float) -> dict:
    """A task created through the API in the world's record shape (sandbox/README.md)."""
    shown = {**properties, "hs_object_id": task_id, "hs_createdate": hubspot_time(created),
             "hs_lastmodifieddate": hubspot_time(updated)}  # fmt: skip
    body = {"id": task_id, "properties": shown, "createdAt": hubspot_time(created),
            "updatedAt": hubspot_time(updated), "archived": False}  # fmt: skip
    if contact_ids:
        body["associations"] = {
            "contacts": {"results": [{"id": i, "type": "task_to_contact"} for i in contact_ids]}
        }
    return body


def created_tasks(ctx: EmulatorContext) -> list[tuple]:
    """Tasks created through the API as world records (id, created_at, updated_at, body text), for search."""
    if ctx.destinations is None:
        return []
    result = []
    for task_id, properties, contact_ids, created, updated in ctx.destinations.fetch(
        "select id, properties, contact_ids, created_at, updated_at from hubspot_tasks"
    ):
        body = task_body(task_id, json.loads(properties), json.loads(contact_ids), created, updated)
        result.append((task_id, datetime.fromtimestamp(created, UTC), datetime.fromtimestamp(updated, UTC),
                       json.dumps(body)))  # fmt: skip
    return result
