"""The sandbox as a destination: what the emulated vendors received through their write APIs.

One DuckDB file, `<world_dir>/destinations.duckdb`, owned by the one sandbox process; it persists across
restarts and `DELETE /_sandbox/destinations` clears it. Tests compare it with what a sync meant to deliver
through `GET /_sandbox/destinations/{vendor}` (the shapes are in sandbox/README.md).

The vendor modules (klaviyo_writes.py, meta_audiences.py, hubspot_writes.py, webhook.py) read and write
their own tables inside `store.transaction()`. This module owns the schema, the state views and the one
part whose cost matters: Meta audience membership, which must take a 10,000-row batch in well under half a
second when the audience already has a million members. So membership is set-based: a batch goes in as an
Arrow table and meets the members through hash joins; Python only loops over the batch itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from cdp.warehouse import registered
from sandbox.emulators.store import WorldStore

FILE_NAME = "destinations.duckdb"
VENDORS = ("klaviyo", "meta", "hubspot", "webhook")

# Times are epoch seconds (double): job status is arithmetic on them, and no time zone can get in the way.
SCHEMA = """
create table if not exists klaviyo_profiles (id varchar, email varchar, phone_number varchar,
    external_id varchar, attributes varchar, properties varchar, created_at double, updated_at double);
create table if not exists klaviyo_lists (id varchar, name varchar, opt_in_process varchar,
    created_at double, updated_at double);
create table if not exists klaviyo_list_members (list_id varchar, profile_id varchar, joined_at double);
create table if not exists klaviyo_jobs (id varchar, created_at double, total_count integer,
    completed_count integer, failed_count integer, list_ids varchar);
create table if not exists klaviyo_job_profiles (job_id varchar, seq integer, profile_id varchar);
create table if not exists klaviyo_job_errors (job_id varchar, seq integer, id varchar, code varchar,
    title varchar, detail varchar, pointer varchar, original_payload varchar);
create table if not exists meta_audiences (id varchar, account_id varchar, name varchar, description varchar,
    subtype varchar, customer_file_source varchar, created_at double, updated_at double);
create table if not exists meta_members (audience_id varchar, member_id bigint, row_json varchar);
create table if not exists meta_keys (audience_id varchar, key varchar, member_id bigint);
create table if not exists meta_sessions (audience_id varchar, session_id varchar, finished boolean,
    batches integer, received bigint, updated_at double);
create table if not exists hubspot_properties (object_type varchar, name varchar, body varchar,
    created_at double);
create table if not exists hubspot_contacts (id varchar, email varchar, properties varchar,
    created_at double, updated_at double);
create table if not exists hubspot_tasks (id varchar, properties varchar, contact_ids varchar,
    created_at double, updated_at double);
create table if not exists webhook_deliveries (seq bigint, path varchar, headers varchar, body varchar,
    idempotency_key varchar, bearer_token varchar, received_at double);
"""
TABLES = [line.split()[5] for line in SCHEMA.splitlines() if line.startswith("create table")]


class DestinationStore:
    """The destination state. Every read and write runs under one lock on a per-thread cursor: DuckDB
    connections are not shared across threads, and the handlers' read-modify-write steps must not interleave.

    The file is opened on first use, so a sandbox that only serves reads never creates it."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.RLock()
        self._local = threading.local()

    @classmethod
    def for_world(cls, world_dir: Path) -> DestinationStore:
        return cls(Path(world_dir) / FILE_NAME)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = duckdb.connect(str(self.path))
            self._con.execute(SCHEMA)
            # Cursors of a closed connection are dead: forget those of every thread.
            self._local = threading.local()
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
        return cursor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction, holding the store's lock: all of it applies, or none."""
        with self._lock:
            cursor = self._cursor()
            cursor.execute("begin")
            try:
                yield cursor
            except BaseException:
                cursor.execute("rollback")
                raise
            cursor.execute("commit")

    def fetch(self, sql: str, params: list | None = None) -> list[tuple]:
        with self._lock:
            if self._con is None and not self.path.exists():
                return []  # nothing was ever written: a read must not create the file
            return self._cursor().execute(sql, params or []).fetchall()

    def clear(self) -> None:
        with self.transaction() as cursor:
            for table in TABLES:
                cursor.execute(f"delete from {table}")

    # -- the state tests compare against ------------------------------------------------------------------

    def state(self, vendor: str, world: WorldStore, summary: bool = False) -> dict:
        with self._lock:
            self._cursor()  # open (and create) the file: an empty state is still a state
        if vendor == "klaviyo":
            return self._klaviyo_state(world)
        if vendor == "meta":
            return self._meta_state(summary)
        if vendor == "hubspot":
            return self._hubspot_state()
        if vendor == "webhook":
            return self._webhook_state()
        raise KeyError(f"No destination state for {vendor!r}: choose one of {', '.join(VENDORS)}")

    def _klaviyo_state(self, world: WorldStore) -> dict:
        profiles = [
            {"id": i, "email": e, "phone_number": p, "external_id": x, "properties": json.loads(props)}
            for i, e, p, x, props in self.fetch(
                "select id, email, phone_number, external_id, properties from klaviyo_profiles order by id"
            )
        ]
        members: dict[str, list[str]] = {}
        for list_id, profile_id in self.fetch(
            "select list_id, profile_id from klaviyo_list_members order by list_id, profile_id"
        ):
            members.setdefault(list_id, []).append(profile_id)
        names = dict(self.fetch("select id, name from klaviyo_lists"))
        # A world list the API added members to is part of the state too; its name comes from the world.
        world_ids = sorted(set(members) - set(names))
        if world_ids:
            sql = "select id, json_extract_string(body, '$.attributes.name') from records where list_contains(?, id)"
            names |= dict(world.query("klaviyo", "lists", sql, [world_ids]))
        lists = [{"id": i, "name": names.get(i), "profile_ids": members.get(i, [])} for i in sorted(names)]
        jobs = self.fetch("select count(*) from klaviyo_jobs")[0][0]
        return {"profiles": profiles, "lists": lists, "jobs": jobs}

    def _meta_state(self, summary: bool) -> dict:
        audiences = self.fetch(
            "select a.id, a.name, a.account_id, (select count(*) from meta_members m where m.audience_id = a.id) "
            "from meta_audiences a order by a.created_at, a.id"
        )
        if summary:
            return {"audiences": [{"id": i, "name": n, "size": size} for i, n, _, size in audiences]}
        rows: dict[str, list[dict]] = {}
        for audience_id, row_json in self.fetch(
            "select audience_id, row_json from meta_members order by audience_id, member_id"
        ):
            rows.setdefault(audience_id, []).append(json.loads(row_json))
        return {
            "audiences": [
                {"id": i, "name": n, "account_id": account, "rows": rows.get(i, []), "size": size}
                for i, n, account, size in audiences
            ]
        }

    def _hubspot_state(self) -> dict:
        properties: dict[str, list[dict]] = {"contacts": [], "tasks": []}
        for object_type, body in self.fetch(
            "select object_type, body from hubspot_properties order by object_type, created_at, name"
        ):
            properties.setdefault(object_type, []).append(json.loads(body))
        contacts = [
            {"id": i, "email": e, "properties": json.loads(p)}
            for i, e, p in self.fetch("select id, email, properties from hubspot_contacts order by id")
        ]
        tasks = [
            {"id": i, "properties": json.loads(p), "contact_ids": json.loads(c)}
            for i, p, c in self.fetch("select id, properties, contact_ids from hubspot_tasks order by id")
        ]
        return {"properties": properties, "contacts": contacts, "tasks": tasks}

    def _webhook_state(self) -> dict:
        deliveries = [
            {"path": path, "headers": json.loads(headers), "body": json.loads(body), "idempotency_key": key,
             "bearer_token": token, "received_at": iso_time(at)}
            for path, headers, body, key, token, at in self.fetch(
                "select path, headers, body, idempotency_key, bearer_token, received_at "
                "from webhook_deliveries order by seq"
            )
        ]  # fmt: skip
        return {"deliveries": deliveries}


# -- helpers the vendor modules share ------------------------------------------------------------------------


def iso_time(epoch: float | None) -> str | None:
    """Epoch seconds -> `2026-10-01T12:00:00.123456+00:00` (Klaviyo's and most vendors' ISO 8601)."""
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def insert_rows(cursor: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    """Append `rows` (dicts with the table's column names) in one statement, through Arrow."""
    if not rows:
        return
    batch = pa.Table.from_pylist(rows)
    cursor.register("incoming_rows", batch)
    try:
        columns = ", ".join(batch.column_names)
        cursor.execute(f"insert into {table} ({columns}) select {columns} from incoming_rows")
    finally:
        cursor.unregister("incoming_rows")


_union_local = threading.local()


def query_world_with(
    world: WorldStore, vendor: str, resource: str, extra: list[tuple], sql: str, params: list | None = None
) -> list[tuple]:
    """`WorldStore.query` over the world's records plus `extra` (id, created_at, updated_at, body) rows:
    records created through a write API are served by the read endpoints beside the world's own.
    Without extra rows this is exactly `world.query`."""
    if not extra:
        return world.query(vendor, resource, sql, params)
    con = getattr(_union_local, "con", None)
    if con is None:
        con = duckdb.connect(":memory:")
        con.execute("set timezone = 'UTC'")
        _union_local.con = con
    ids, created, updated, bodies = (list(column) for column in zip(*extra, strict=True))
    table = pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "created_at": pa.array(created, pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(updated, pa.timestamp("us", tz="UTC")),
            "body": pa.array(bodies, pa.string()),
        }
    )
    con.register("api_records", table)
    path = world.path(vendor, resource)
    if path.exists():
        literal = str(path).replace("'", "''")
        source = (
            f"select id, created_at, updated_at, body from read_parquet('{literal}') "
            "union all select * from api_records"
        )
    else:
        source = "select * from api_records"
    con.execute(f"create or replace temp view records as {source}")
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.execute("drop view records")
        con.unregister("api_records")


# -- Meta audience membership ---------------------------------------------------------------------------------
#
# A member is a set of identifier values (`EMAIL:<hash>`, `PHONE:<hash>`, `EXTERN_ID:<id>`, ...) plus the row
# of values last sent for it. As in Meta's matching, a row sharing any identifier with a member *is* that
# member (and a row that links two members merges them); a removed row takes every member it shares one with.

# Fields that identify a person on their own; the others (names, city, ...) only describe one.
IDENTIFYING_FIELDS = ("EMAIL", "PHONE", "MADID", "EXTERN_ID", "PAGEUID")


def member_keys(row: dict[str, str]) -> list[str]:
    """The identifier values of one row (empty values dropped). A row with no identifying field is keyed by
    all its values together, so sending the same row twice still makes one member."""
    keys = [f"{name}:{row[name]}" for name in IDENTIFYING_FIELDS if row.get(name)]
    if keys:
        return keys
    digest = hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()
    return [f"ROW:{digest}"]


def group_rows(
    row_keys: list[list[str]], matches: list[tuple[int, int]]
) -> list[tuple[list[int], list[int]]]:
    """Batch rows and existing members joined by shared keys -> components (row indexes, member ids).

    `matches` pairs a row index with a member that holds one of its keys. Each component becomes one member.
    A union-find over integers: rows are nodes 0..n-1, matched members the nodes after them.
    """
    n = len(row_keys)
    if not matches and sum(map(len, row_keys)) == len({key for keys in row_keys for key in keys}):
        return [([index], []) for index in range(n)]  # the common case: new people, each once
    node_of_member: dict[int, int] = {}
    for _, member_id in matches:
        node_of_member.setdefault(member_id, n + len(node_of_member))
    parent = list(range(n + len(node_of_member)))

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:
            parent[node], node = root, parent[node]
        return root

    def union(a: int, b: int) -> None:
        a, b = find(a), find(b)
        if a != b:
            parent[a] = b

    first_row_of: dict[str, int] = {}
    for index, keys in enumerate(row_keys):
        for key in keys:
            first = first_row_of.setdefault(key, index)
            if first != index:
                union(index, first)
    for index, member_id in matches:
        union(index, node_of_member[member_id])
    member_of_node = {node: member_id for member_id, node in node_of_member.items()}
    components: dict[int, tuple[list[int], list[int]]] = {}
    for node in range(len(parent)):
        rows, members = components.setdefault(find(node), ([], []))
        if node < n:
            rows.append(node)
        else:
            members.append(member_of_node[node])
    return [(rows, sorted(members)) for rows, members in components.values() if rows]


def add_members(cursor: duckdb.DuckDBPyConnection, audience_id: str, rows: list[dict[str, str]]) -> None:
    """Add rows (field -> value, empty values left out) to an audience, merging with the members they match.

    Only the batch is handled in Python. A member that a row updates keeps its keys and gets the row's values
    patched into its own (`json_merge_patch`), so nothing of the existing audience is read back except the
    rare members that one row joins together.
    """
    if not rows:
        return
    row_keys = [member_keys(row) for row in rows]
    batch = pa.table(
        {
            "row_index": pa.array([i for i, keys in enumerate(row_keys) for _ in keys], pa.int32()),
            "key": pa.array([key for keys in row_keys for key in keys], pa.string()),
        }
    )
    with registered(cursor, batch_keys=batch):
        found = cursor.execute(
            "select b.row_index, b.key, k.member_id from batch_keys b join meta_keys k on k.key = b.key "
            "where k.audience_id = ?",
            [audience_id],
        ).fetchall()
    matched_keys = {key for _, key, _ in found}
    components = group_rows(row_keys, [(index, member_id) for index, _, member_id in found])
    next_id = cursor.execute("select coalesce(max(member_id), 0) + 1 from meta_members").fetchone()[0]
    merging = [members for _, members in components if len(members) > 1]
    old_rows = _member_rows(cursor, audience_id, sorted({m for members in merging for m in members}))
    patched, patches, new_members, new_keys, absorbed = [], [], [], [], []
    for row_indexes, members in components:
        values: dict[str, str] = {}
        for index in row_indexes:
            values |= rows[index]  # the latest values win
        if not members:
            member_id, next_id = next_id, next_id + 1
            new_members.append((member_id, json.dumps(values, sort_keys=True)))
        else:
            member_id = members[0]  # the oldest member survives a merge
            if len(members) > 1:
                merged: dict[str, str] = {}
                for old in members:
                    merged |= old_rows.get(old, {})
                values = merged | values
                absorbed += [(old, member_id) for old in members[1:]]
            patched.append(member_id)
            patches.append(json.dumps(values, sort_keys=True))
        component_keys = dict.fromkeys(key for index in row_indexes for key in row_keys[index])
        new_keys += [(key, member_id) for key in component_keys if key not in matched_keys]
    if absorbed:
        losers = pa.table({"member_id": pa.array([a for a, _ in absorbed], pa.int64()),
                           "target": pa.array([b for _, b in absorbed], pa.int64())})  # fmt: skip
        with registered(cursor, absorbed=losers):
            cursor.execute("update meta_keys set member_id = a.target from absorbed a where audience_id = ? "
                           "and meta_keys.member_id = a.member_id", [audience_id])  # fmt: skip
            cursor.execute("delete from meta_members where audience_id = ? and member_id in "
                           "(select member_id from absorbed)", [audience_id])  # fmt: skip
    if patched:
        table = pa.table(
            {"member_id": pa.array(patched, pa.int64()), "patch": pa.array(patches, pa.string())}
        )
        with registered(cursor, patches=table):
            cursor.execute(
                "update meta_members set row_json = cast(json_merge_patch(row_json, p.patch) as varchar) "
                "from patches p where audience_id = ? and meta_members.member_id = p.member_id",
                [audience_id],
            )
    _append(cursor, "meta_members", audience_id, {"member_id": ([m for m, _ in new_members], pa.int64()),
                                                  "row_json": ([r for _, r in new_members], pa.string())})  # fmt: skip
    _append(cursor, "meta_keys", audience_id, {"key": ([k for k, _ in new_keys], pa.string()),
                                               "member_id": ([m for _, m in new_keys], pa.int64())})  # fmt: skip


def _member_rows(
    cursor: duckdb.DuckDBPyConnection, audience_id: str, member_ids: list[int]
) -> dict[int, dict]:
    if not member_ids:
        return {}
    with registered(cursor, wanted=pa.table({"member_id": pa.array(member_ids, pa.int64())})):
        found = cursor.execute("select member_id, row_json from meta_members where audience_id = ? and member_id "
                               "in (select member_id from wanted)", [audience_id]).fetchall()  # fmt: skip
    return {member_id: json.loads(row_json) for member_id, row_json in found}


def remove_members(cursor: duckdb.DuckDBPyConnection, audience_id: str, rows: list[dict[str, str]]) -> int:
    """Remove every member sharing an identifier with any of the rows; returns how many went."""
    keys = sorted({key for row in rows for key in member_keys(row)})
    if not keys:
        return 0
    with registered(cursor, batch_keys=pa.table({"key": pa.array(keys, pa.string())})):
        doomed = [member_id for (member_id,) in cursor.execute(
            "select distinct member_id from meta_keys where audience_id = ? and key in (select key from batch_keys)",
            [audience_id]).fetchall()]  # fmt: skip
    if not doomed:
        return 0
    with registered(cursor, doomed=pa.table({"member_id": pa.array(doomed, pa.int64())})):
        for table in ("meta_members", "meta_keys"):
            cursor.execute(
                f"delete from {table} where audience_id = ? and member_id in (select member_id from doomed)",
                [audience_id],
            )
    return len(doomed)


def move_members(cursor: duckdb.DuckDBPyConnection, source_id: str, target_id: str) -> None:
    """Make `target_id`'s members exactly `source_id`'s (the end of a replace session); `source_id` empties."""
    for table in ("meta_members", "meta_keys"):
        cursor.execute(f"delete from {table} where audience_id = ?", [target_id])
        cursor.execute(f"update {table} set audience_id = ? where audience_id = ?", [target_id, source_id])


def drop_members(cursor: duckdb.DuckDBPyConnection, audience_id: str) -> None:
    for table in ("meta_members", "meta_keys"):
        cursor.execute(f"delete from {table} where audience_id = ?", [audience_id])


def _append(cursor: duckdb.DuckDBPyConnection, table: str, audience_id: str, columns: dict) -> None:
    data = {name: pa.array(values, kind) for name, (values, kind) in columns.items()}
    names = ", ".join(data)
    with registered(cursor, new_rows=pa.table(data)):
        cursor.execute(
            f"insert into {table} (audience_id, {names}) select ?, {names} from new_rows", [audience_id]
        )
