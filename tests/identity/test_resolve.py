"""Resolution scenarios on hand-made graphs: who ends up together (customer ids: test_stable_ids.py)."""

from __future__ import annotations

import numpy as np

from cdp.identity.resolve import Graph, kept_edges, resolve

LIMITS = {"shopify_customer_id": 1, "klaviyo_profile_id": 1, "loyalty_number": 1, "hubspot_contact_id": 3,
          "phone": 1, "email": 5}
TRUST = {"shopify_customer_id": 1, "klaviyo_profile_id": 1, "hubspot_contact_id": 1, "shopify_order_id": 2,
         "device_id": 2, "loyalty_number": 3, "phone": 4, "email": 5, "fbclid": 6}


def build(records: dict[str, list[tuple[str, str]]]) -> tuple[list[str], Graph]:
    """records: name -> [(id_type, value)]; returns the record names (in index order) and the graph."""
    names = list(records)
    values = sorted({v for ids in records.values() for v in ids})
    types = tuple(sorted({t for t, _ in values}))
    edge_record, edge_value = [], []
    for r, name in enumerate(names):
        for value in records[name]:
            edge_record.append(r)
            edge_value.append(values.index(value))
    graph = Graph(len(names), np.array(edge_record, dtype=np.int64), np.array(edge_value, dtype=np.int64),
                  np.array([types.index(t) for t, _ in values], dtype=np.int64),
                  np.array([TRUST[t] for t, _ in values], dtype=np.int64), types)
    return names, graph


def groups(names: list[str], labels: np.ndarray) -> set[frozenset[str]]:
    out: dict[int, set[str]] = {}
    for name, label in zip(names, labels.tolist(), strict=True):
        out.setdefault(label, set()).add(name)
    return {frozenset(g) for g in out.values()}


def test_a_family_email_never_glues_two_otherwise_distinct_people():
    names, graph = build({
        "ann_customer": [("shopify_customer_id", "1"), ("email", "home@x.com"), ("phone", "+1555")],
        "ann_order": [("shopify_customer_id", "1"), ("email", "home@x.com")],
        "bob_customer": [("shopify_customer_id", "2"), ("email", "home@x.com"), ("phone", "+1666")],
        "bob_lead": [("email", "bob@work.com"), ("phone", "+1666")],
    })
    resolution = resolve(graph, LIMITS)
    assert groups(names, resolution.labels) == {
        frozenset({"ann_customer", "ann_order"}), frozenset({"bob_customer", "bob_lead"})}
    assert len(resolution.refused_values) == 1  # the family email, whole: no partial join


def test_crm_duplicates_of_one_person_join_through_their_phone():
    names, graph = build({
        "contact_a": [("hubspot_contact_id", "101"), ("email", "jo@x.com"), ("phone", "+4420")],
        "contact_b": [("hubspot_contact_id", "102"), ("phone", "+4420")],
        "profile": [("klaviyo_profile_id", "K1"), ("email", "jo@x.com")],
    })
    assert groups(names, resolve(graph, LIMITS).labels) == {frozenset(names)}


def test_anonymous_device_joins_its_person_once_identified_and_cross_device_activity_stitches():
    names, graph = build({
        "customer": [("shopify_customer_id", "7"), ("email", "kim@x.com")],
        "laptop": [("device_id", "d1"), ("shopify_customer_id", "7")],  # signed in on the laptop
        "phone_app": [("device_id", "d2"), ("shopify_order_id", "o9")],  # anonymous, but bought order o9
        "order": [("shopify_order_id", "o9"), ("shopify_customer_id", "7")],
        "stranger_device": [("device_id", "d3")],
    })
    assert groups(names, resolve(graph, LIMITS).labels) == {
        frozenset({"customer", "laptop", "phone_app", "order"}), frozenset({"stranger_device"})}


def test_the_kept_edges_give_exactly_the_resolved_profiles():
    from cdp.identity.resolve import components

    names, graph = build({
        "a": [("shopify_customer_id", "1"), ("email", "shared@x.com")],
        "b": [("shopify_customer_id", "2"), ("email", "shared@x.com")],
        "c": [("shopify_customer_id", "2"), ("loyalty_number", "LN1")],
    })
    resolution = resolve(graph, LIMITS)
    mask = kept_edges(graph, resolution)
    again, _ = components(graph.n_records, graph.n_values, graph.edge_record[mask], graph.edge_value[mask])
    assert groups(names, again) == groups(names, resolution.labels) == {frozenset("a"), frozenset("bc")}


def test_a_tie_between_equally_trusted_values_goes_by_the_tie_order_not_by_value_numbers():
    # Two emails, each on two records, can each join C to one of two people with their own loyalty numbers:
    # the first in the tie order joins, the second is refused.
    names, graph = build({
        "a": [("loyalty_number", "L1"), ("email", "x@x.com")],
        "b": [("loyalty_number", "L2"), ("email", "y@x.com")],
        "c": [("email", "x@x.com"), ("email", "y@x.com")],
    })
    x_first = resolve(graph, LIMITS)  # the default order: value numbers, here by name
    assert groups(names, x_first.labels) == {frozenset("ac"), frozenset("b")}
    y_first = resolve(graph, LIMITS, tie_order=lambda values: np.sort(values)[::-1])
    assert groups(names, y_first.labels) == {frozenset("a"), frozenset("bc")}
