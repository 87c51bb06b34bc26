"""The Meta emulator as a destination: custom audiences, and their members added, removed and replaced the
way Meta matches them (a member is a set of identifier hashes), over real HTTP."""

from __future__ import annotations

import hashlib
import json
import time

import httpx
import pytest

from sandbox.emulators.common import Limits
from sandbox.emulators.destinations import group_rows, member_keys
from sandbox.emulators.meta_audiences import clean_rows, parse_payload
from sandbox.server import sandbox_in_thread
from tests.helpers.worlds import CREDENTIALS, make_world

META = CREDENTIALS["meta"]
TOKEN = {"access_token": META["access_token"]}
ACCOUNT = f"act_{META['ad_account_id']}"
GRAPH = "meta/v23.0"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def base(tmp_path):
    with sandbox_in_thread(make_world(tmp_path / "world"), Limits(enabled=False)) as url:
        yield url


def create_audience(base: str, name: str = "VIP customers") -> str:
    answer = httpx.post(f"{base}/{GRAPH}/{ACCOUNT}/customaudiences", data={
        **TOKEN, "name": name, "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def send(base: str, audience_id: str, schema, data, method: str = "POST", edge: str = "users",
         session: dict | None = None) -> httpx.Response:  # fmt: skip
    fields = {**TOKEN, "payload": json.dumps({"schema": schema, "data": data})}
    if session is not None:
        fields["session"] = json.dumps(session)
    # A 10,000-row write takes a while on a busy machine; only the answer is under test, not its time.
    return httpx.request(method, f"{base}/{GRAPH}/{audience_id}/{edge}", data=fields, timeout=120)


def members(base: str, audience_id: str) -> list[dict]:
    [audience] = [a for a in httpx.get(f"{base}/_sandbox/destinations/meta").json()["audiences"]
                  if a["id"] == audience_id]  # fmt: skip
    assert audience["size"] == len(audience["rows"])
    return audience["rows"]


# -- pure rules ---------------------------------------------------------------------------------------------


def test_rows_are_keyed_by_their_identifying_values_only():
    assert member_keys({"EMAIL": "e", "FN": "f", "EXTERN_ID": "x"}) == ["EMAIL:e", "EXTERN_ID:x"]
    # Without an identifier the whole row is the key: the same row twice is one member.
    assert member_keys({"FN": "f", "ZIP": "z"}) == member_keys({"ZIP": "z", "FN": "f"})


def test_rows_sharing_a_key_with_each_other_or_a_member_form_one_group():
    groups = group_rows(
        [["EMAIL:a"], ["EMAIL:a", "PHONE:1"], ["EMAIL:b"], ["PHONE:2"]], [(2, 7), (3, 7), (3, 9)]
    )
    assert sorted(groups) == [([0, 1], []), ([2, 3], [7, 9])]


def test_a_payload_is_checked_whole_and_row_by_row():
    schema, data = parse_payload(json.dumps({"schema": "EMAIL", "data": [sha("a"), [sha("b")]]}))
    rows, invalid = clean_rows(schema, data)
    assert rows == [{"EMAIL": sha("a")}, {"EMAIL": sha("b")}] and invalid["count"] == 0
    rows, invalid = clean_rows(
        ["EMAIL", "EXTERN_ID"], [["", ""], ["NOT-A-HASH", ""], ["", "C-1"], [sha("c")]]
    )
    assert rows == [{"EXTERN_ID": "C-1"}] and invalid["count"] == 3
    rows, invalid = clean_rows(["EMAIL"], [[sha(str(n))] for n in range(6)], reject_every=3)
    assert len(rows) == 4 and invalid["count"] == 2


# -- audiences ------------------------------------------------------------------------------------------------


def test_an_audience_is_created_and_listed_with_its_size(base):
    audience_id = create_audience(base)
    assert send(base, audience_id, ["EMAIL"], [[sha("a")], [sha("b")]]).status_code == 200
    listing = httpx.get(f"{base}/{GRAPH}/{ACCOUNT}/customaudiences",
                        params={**TOKEN, "fields": "id,name,approximate_count_lower_bound"}).json()  # fmt: skip
    assert listing["data"] == [
        {"id": audience_id, "name": "VIP customers", "approximate_count_lower_bound": 2}
    ]


def test_audiences_page_like_the_other_edges(base):
    created = [create_audience(base, f"Segment {n}") for n in range(3)]
    page = httpx.get(f"{base}/{GRAPH}/{ACCOUNT}/customaudiences", params={**TOKEN, "limit": 2}).json()
    rest = httpx.get(page["paging"]["next"]).json()
    assert [a["id"] for a in page["data"] + rest["data"]] == created and "next" not in rest["paging"]


def test_creating_an_audience_needs_its_fields_and_the_right_account(base):
    missing = httpx.post(f"{base}/{GRAPH}/{ACCOUNT}/customaudiences", data={**TOKEN, "name": "x"})
    assert missing.status_code == 400 and "customer_file_source" in missing.json()["error"]["message"]
    other = httpx.post(f"{base}/{GRAPH}/act_999/customaudiences", data={
        **TOKEN, "name": "x", "customer_file_source": "USER_PROVIDED_ONLY"})  # fmt: skip
    assert other.json()["error"]["error_subcode"] == 33
    bad_token = httpx.post(
        f"{base}/{GRAPH}/{ACCOUNT}/customaudiences", data={"access_token": "nope", "name": "x"}
    )
    assert bad_token.status_code == 400 and bad_token.json()["error"]["code"] == 190


def test_the_users_answer_counts_received_and_invalid_rows(base):
    audience_id = create_audience(base)
    answer = send(base, audience_id, ["EMAIL", "PHONE"], [[sha("a"), sha("1")], ["", ""], ["Jo@Example.com", ""]],
                  session={"session_id": 77, "batch_seq": 1, "last_batch_flag": True})  # fmt: skip
    body = answer.json()
    assert body["audience_id"] == audience_id and body["session_id"] == 77
    assert (body["num_received"], body["num_invalid_entries"]) == (3, 2)
    assert "Jo@Example.com" in body["invalid_entry_samples"]
    assert members(base, audience_id) == [{"EMAIL": sha("a"), "PHONE": sha("1")}]


def test_a_re_added_person_is_updated_never_duplicated(base):
    audience_id = create_audience(base)
    send(base, audience_id, ["EMAIL", "FN"], [[sha("a"), sha("jo")], [sha("b"), ""]])
    # The same email with a phone and a new name: one member, updated.
    send(base, audience_id, ["EMAIL", "PHONE", "FN"], [[sha("a"), sha("1"), sha("joanna")]])
    # A row that links two members (b's email, a's phone) merges them.
    send(base, audience_id, ["EMAIL", "PHONE"], [[sha("b"), sha("1")]])
    assert members(base, audience_id) == [{"EMAIL": sha("b"), "FN": sha("joanna"), "PHONE": sha("1")}]


def test_a_removed_row_takes_every_member_sharing_an_identifier(base):
    audience_id = create_audience(base)
    send(base, audience_id, ["EMAIL", "PHONE"], [[sha("a"), sha("1")], [sha("b"), sha("2")], [sha("c"), ""]])
    answer = send(base, audience_id, ["PHONE"], [[sha("1")], [sha("9")]], method="DELETE")
    assert answer.status_code == 200 and answer.json()["num_received"] == 2
    send(base, audience_id, "EMAIL", [sha("c"), sha("zzz")], method="DELETE")
    assert members(base, audience_id) == [{"EMAIL": sha("b"), "PHONE": sha("2")}]


def test_a_replace_session_makes_the_members_exactly_its_rows(base):
    audience_id = create_audience(base)
    send(base, audience_id, ["EMAIL"], [[sha("old1")], [sha("old2")], [sha("keep")]])
    first = send(base, audience_id, ["EMAIL"], [[sha("keep")], [sha("new1")]], edge="usersreplace",
                 session={"session_id": 5, "batch_seq": 1, "last_batch_flag": False})  # fmt: skip
    assert first.status_code == 200, first.text
    # Until the last batch the audience is untouched.
    assert len(members(base, audience_id)) == 3
    last = {"session_id": 5, "batch_seq": 2, "last_batch_flag": True}
    assert (
        send(base, audience_id, ["EMAIL"], [[sha("new2")]], edge="usersreplace", session=last).status_code
        == 200
    )
    expected = [{"EMAIL": sha(v)} for v in ("keep", "new1", "new2")]
    assert sorted(members(base, audience_id), key=str) == sorted(expected, key=str)
    # A retried last batch (its answer lost) is answered again and changes nothing.
    again = send(base, audience_id, ["EMAIL"], [[sha("new2")]], edge="usersreplace", session=last)
    assert again.status_code == 200 and len(members(base, audience_id)) == 3


def test_a_new_replace_session_drops_an_unfinished_one(base):
    audience_id = create_audience(base)
    send(base, audience_id, ["EMAIL"], [[sha("stale")]], edge="usersreplace",
         session={"session_id": 1, "batch_seq": 1, "last_batch_flag": False})  # fmt: skip
    send(base, audience_id, ["EMAIL"], [[sha("fresh")]], edge="usersreplace",
         session={"session_id": 2, "batch_seq": 1, "last_batch_flag": True})  # fmt: skip
    assert members(base, audience_id) == [{"EMAIL": sha("fresh")}]
    orphan = send(base, audience_id, ["EMAIL"], [[sha("x")]], edge="usersreplace",
                  session={"session_id": 3, "batch_seq": 2, "last_batch_flag": True})  # fmt: skip
    assert orphan.status_code == 400 and "batch_seq 1" in orphan.json()["error"]["message"]


def test_replace_needs_a_session_and_a_known_audience(base):
    audience_id = create_audience(base)
    no_session = send(base, audience_id, ["EMAIL"], [[sha("a")]], edge="usersreplace")
    assert no_session.status_code == 400 and "session" in no_session.json()["error"]["message"]
    unknown = send(base, "23859999999999999", ["EMAIL"], [[sha("a")]], edge="usersreplace",
                   session={"session_id": 1, "batch_seq": 1, "last_batch_flag": True})  # fmt: skip
    error = unknown.json()["error"]
    assert unknown.status_code == 400 and (error["code"], error["error_subcode"]) == (100, 33)


def test_more_than_ten_thousand_rows_are_refused_whole(base):
    audience_id = create_audience(base)
    answer = send(base, audience_id, "EMAIL", [sha(str(n)) for n in range(10_001)])
    assert answer.status_code == 400 and answer.json()["error"]["code"] == 100
    assert members(base, audience_id) == []


def test_a_json_body_works_like_a_form(base):
    audience_id = create_audience(base)
    answer = httpx.post(f"{base}/{GRAPH}/{audience_id}/users", params=TOKEN,
                        json={"payload": {"schema": ["EXTERN_ID"], "data": [["C-1"]]}})  # fmt: skip
    assert answer.status_code == 200 and members(base, audience_id) == [{"EXTERN_ID": "C-1"}]


def test_audience_writes_are_throttled_per_ad_account_with_80003(tmp_path):
    # A tenth of the allowance: 6 audience writes per minute.
    with sandbox_in_thread(make_world(tmp_path / "world"), Limits(scale=0.1)) as url:
        summary = httpx.get(f"{url}/_sandbox/destinations/meta", params={"summary": 1}).json()
        audience_id = create_audience(url)
        answers = [send(url, audience_id, "EMAIL", [sha(str(n))]) for n in range(6)]
    assert summary["audience_writes_per_second"] == pytest.approx(0.1)
    assert [a.status_code for a in answers] == [200] * 5 + [400]
    error = answers[-1].json()["error"]
    assert error["code"] == 80003 and error["is_transient"] is True
    usage = json.loads(answers[-1].headers["X-Business-Use-Case-Usage"])[META["ad_account_id"]][0]
    assert usage["type"] == "custom_audience" and usage["estimated_time_to_regain_access"] >= 1


def test_the_state_survives_a_restart_and_clears_on_request(tmp_path):
    world = make_world(tmp_path / "world")
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        audience_id = create_audience(url)
        send(url, audience_id, "EMAIL", [sha("a")])
    with sandbox_in_thread(world, Limits(enabled=False)) as url:
        assert members(url, audience_id) == [{"EMAIL": sha("a")}]
        assert httpx.delete(f"{url}/_sandbox/destinations").status_code == 200
        assert httpx.get(f"{url}/_sandbox/destinations/meta").json()["audiences"] == []


@pytest.mark.slow
@pytest.mark.capacity  # two minutes on a busy machine; benchmarks/sync.py sends the same million through a sync
def test_a_million_member_audience_takes_adds_and_removes(base):
    audience_id = create_audience(base)
    started = time.perf_counter()
    slowest = 0.0
    for batch in range(100):
        data = [[sha(f"e{batch * 10_000 + n}"), sha(f"p{batch * 10_000 + n}")] for n in range(10_000)]
        sent = time.perf_counter()
        answer = send(base, audience_id, ["EMAIL", "PHONE"], data)
        slowest = max(slowest, time.perf_counter() - sent)
        assert answer.status_code == 200 and answer.json()["num_invalid_entries"] == 0
    added = time.perf_counter() - started
    summary = httpx.get(f"{base}/_sandbox/destinations/meta", params={"summary": 1}).json()["audiences"]
    assert summary == [{"id": audience_id, "name": "VIP customers", "size": 1_000_000}]
    removed_at = time.perf_counter()
    answer = send(base, audience_id, "EMAIL", [sha(f"e{n * 7}") for n in range(10_000)], method="DELETE")
    removed = time.perf_counter() - removed_at
    assert answer.status_code == 200
    size = httpx.get(f"{base}/_sandbox/destinations/meta", params={"summary": 1}).json()["audiences"][0][
        "size"
    ]
    assert size == 990_000
    print(
        f"\n1,000,000 members in 100 requests: {added:.1f} s (slowest request {slowest:.2f} s); "
        f"10,000 removed in {removed:.2f} s"
    )
