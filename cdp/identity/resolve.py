"""Resolution of the identity graph into profiles: pure functions over integer-mapped arrays.

The graph is bipartite: entity records on one side, identifier values (id_type + match key) on the other, an
edge where a record carries a value. Profiles are its connected components, with one refinement for the
components that break a rule (two values of a unique type, more values of a type than a person has):

1. `connected_components` (scipy, C speed) labels every record; on the sandbox's graphs most components
   break no rule and are final at this point (engineering.md, trap 11: no recursive CTE, no label propagation).
2. Only the components that break a limit are re-resolved greedily: their values in trust order (the most
   trustworthy types first, then the values carried by fewest records), each either joining *all* its
   records or, if that would break a limit, none of them (the value is *refused*). All-or-nothing matters:
   a family email joins a partner's records to one's own only partially otherwise, and the result would
   depend on the order of records. It also keeps the result exactly equal to the connected components of
   the kept edges, which the benchmark checks against scipy.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


@dataclass(frozen=True)
class Graph:
    """Integer-mapped graph. Records 0..n_records-1; values 0..n_values-1; edge i joins edge_record[i] and
    edge_value[i]. value_type[v] indexes type_names; value_trust[v]: lower is more trusted."""

    n_records: int
    edge_record: np.ndarray
    edge_value: np.ndarray
    value_type: np.ndarray
    value_trust: np.ndarray
    type_names: tuple[str, ...]

    @property
    def n_values(self) -> int:
        return len(self.value_type)


@dataclass
class Resolution:
    labels: np.ndarray  # component label per record, 0..n_components-1
    refused_values: dict[int, str] = field(default_factory=dict)  # value -> why it joined nothing
    greedy_components: int = 0  # components that broke a rule and were re-resolved

    @property
    def n_components(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0


def components(n_records: int, n_values: int, edge_record: np.ndarray, edge_value: np.ndarray) -> np.ndarray:
    """Connected components of the bipartite graph; the label of each record (values are dropped)."""
    n = n_records + n_values
    ones = np.ones(len(edge_record), dtype=np.int8)
    matrix = coo_matrix((ones, (edge_record, edge_value + n_records)), shape=(n, n)).tocsr()
    _, labels = connected_components(matrix, directed=False)
    return _compact(labels[:n_records])


def resolve(graph: Graph, limits: dict[str, int]) -> Resolution:
    """Profiles from the graph under per-profile limits (id_type -> at most that many distinct values)."""
    labels = components(graph.n_records, graph.n_values, graph.edge_record, graph.edge_value)
    if not len(graph.edge_record):
        return Resolution(labels)
    breaking = _components_breaking_limits(graph, labels, limits)
    if not len(breaking):
        return Resolution(labels)
    in_breaking = np.isin(labels[graph.edge_record], breaking)
    limit_of_type = {graph.type_names.index(t): n for t, n in limits.items() if t in graph.type_names}
    roots, refused = _greedy(graph, graph.edge_record[in_breaking], graph.edge_value[in_breaking], limit_of_type)
    # Records of re-resolved components take labels after all others: root record ids, made distinct.
    relabelled = labels.copy()
    for record, root in roots.items():
        relabelled[record] = labels.max() + 1 + root
    return Resolution(_compact(relabelled), refused, greedy_components=len(breaking))


def kept_edges(graph: Graph, resolution: Resolution) -> np.ndarray:
    """Mask of the edges whose value was not refused: the post-rule edge list."""
    if not resolution.refused_values:
        return np.ones(len(graph.edge_record), dtype=bool)
    return ~np.isin(graph.edge_value, np.fromiter(resolution.refused_values, dtype=np.int64))


def _components_breaking_limits(graph: Graph, labels: np.ndarray, limits: dict[str, int]) -> np.ndarray:
    # one (component, value) pair per distinct value in a component
    pairs = np.unique(np.stack([labels[graph.edge_record], graph.edge_value]), axis=1)
    comp, value = pairs
    breaking = []
    for type_name, limit in limits.items():
        if type_name not in graph.type_names:
            continue
        of_type = graph.value_type[value] == graph.type_names.index(type_name)
        counts = np.bincount(comp[of_type], minlength=int(labels.max()) + 1)
        breaking.append(np.flatnonzero(counts > limit))
    return np.unique(np.concatenate(breaking)) if breaking else np.array([], dtype=np.int64)


def _greedy(
    graph: Graph, edge_record: np.ndarray, edge_value: np.ndarray, limit_of_type: dict[int, int]
) -> tuple[dict[int, int], dict[int, str]]:
    """Union-find over the records of the given edges; returns each record's root and the refused values."""
    records_of_value: dict[int, list[int]] = {}
    for record, value in zip(edge_record.tolist(), edge_value.tolist(), strict=True):
        records_of_value.setdefault(value, []).append(record)
    parent = {r: r for r in set(edge_record.tolist())}
    # Each root's limited values, starting from what each record carries itself (a record is never split).
    held: dict[int, dict[int, set[int]]] = {r: {} for r in parent}
    for record, value in zip(edge_record.tolist(), edge_value.tolist(), strict=True):
        kind = int(graph.value_type[value])
        if kind in limit_of_type:
            held[record].setdefault(kind, set()).add(value)

    def find(r: int) -> int:
        while parent[r] != r:
            parent[r] = parent[parent[r]]
            r = parent[r]
        return r

    order = sorted(records_of_value, key=lambda v: (graph.value_trust[v], len(records_of_value[v]), v))
    refused: dict[int, str] = {}
    for value in order:
        roots = {find(r) for r in records_of_value[value]}
        if len(roots) < 2:
            continue
        merged: dict[int, set[int]] = {}
        for root in roots:
            for kind, values in held[root].items():
                merged.setdefault(kind, set()).update(values)
        over = [k for k, values in merged.items() if len(values) > limit_of_type[k]]
        if over:
            names = ", ".join(graph.type_names[k] for k in sorted(over))
            refused[value] = f"would give one profile more {names} values than the limit"
            continue
        survivor = min(roots)
        for root in roots - {survivor}:
            parent[root] = survivor
            del held[root]
        held[survivor] = merged
    return {r: find(r) for r in parent}, refused


def _compact(labels: np.ndarray) -> np.ndarray:
    _, compact = np.unique(labels, return_inverse=True)
    return compact.astype(np.int64)


# -- stable customer ids -------------------------------------------------------------------------------------

RecordKey = tuple[str, str, str]  # (source, record_type, record_id)


def customer_id_for(anchor: RecordKey) -> str:
    """A profile's id derived from its anchor record alone, so a full rebuild without state gives it again."""
    digest = hashlib.sha256("|".join(anchor).encode()).hexdigest()
    return f"cus_{digest[:20]}"


@dataclass(frozen=True)
class Anchor:
    created_at: object  # comparable timestamp
    key: RecordKey

    def sort_key(self):
        return (self.created_at, self.key)


@dataclass(frozen=True)
class IdEvent:
    event_type: str  # merge | split
    surviving_customer_id: str
    other_customer_id: str  # merge: the retired id; split: the id of the part that left
    component: int  # the current component the event happened in (merge) or that left (split)


@dataclass
class Assignment:
    customer_ids: list[str]  # per record
    anchors: dict[str, Anchor]  # per customer id in use
    events: list[IdEvent]


def assign_customer_ids(
    keys: list[RecordKey],
    created_at: list,
    labels: np.ndarray,
    previous_ids: dict[RecordKey, str],
    previous_anchors: dict[str, Anchor],
) -> Assignment:
    """Give each component a customer id, keeping ids across runs.

    The rule (documented in the model YAML of identity_merges):
    - a component holding no previously assigned record gets `customer_id_for(its anchor)`, the anchor being
      its earliest-created record (ties by source, record type, record id);
    - a previous id belongs to the component holding its anchor record (if that record is gone, to the
      component holding most of its records);
    - a component owning several previous ids (a merge) keeps the one with the oldest anchor; the others
      retire (one `merge` event each);
    - records of a previous id that end up outside the component owning it left it (a `split` event, with
      the id that part has now); such a part owning no id gets one from its own anchor.
    New records joining a profile never change its id, even when they are older than its anchor.
    """
    n_components = int(labels.max()) + 1 if len(labels) else 0
    members: list[list[int]] = [[] for _ in range(n_components)]
    for record, label in enumerate(labels.tolist()):
        members[label].append(record)
    index_of = {key: i for i, key in enumerate(keys)}

    own_anchor = [min((Anchor(created_at[r], keys[r]) for r in rs), key=Anchor.sort_key) for rs in members]
    previous_of_component: list[dict[str, int]] = [{} for _ in range(n_components)]
    for label, rs in enumerate(members):
        for r in rs:
            previous = previous_ids.get(keys[r])
            if previous is not None:
                previous_of_component[label][previous] = previous_of_component[label].get(previous, 0) + 1

    owner: dict[str, int] = {}
    for previous in {p for counts in previous_of_component for p in counts}:
        anchor = previous_anchors.get(previous)
        if anchor is not None and anchor.key in index_of:
            owner[previous] = int(labels[index_of[anchor.key]])
        else:
            holders = [(-counts[previous], own_anchor[c].sort_key(), c)
                       for c, counts in enumerate(previous_of_component) if previous in counts]
            owner[previous] = min(holders)[2]

    owned: list[list[str]] = [[] for _ in range(n_components)]
    for previous, label in owner.items():
        owned[label].append(previous)

    component_id: list[str] = []
    anchors: dict[str, Anchor] = {}
    events: list[IdEvent] = []
    for label in range(n_components):
        if owned[label]:
            ranked = sorted(owned[label], key=lambda p: _previous_anchor(p, previous_anchors, own_anchor[label]))
            survivor = ranked[0]
            anchors[survivor] = previous_anchors.get(survivor) or own_anchor[label]
            events += [IdEvent("merge", survivor, retired, label) for retired in ranked[1:]]
        else:
            survivor = customer_id_for(own_anchor[label].key)
            anchors[survivor] = own_anchor[label]
        component_id.append(survivor)
    for label, counts in enumerate(previous_of_component):
        for previous in counts:
            if owner[previous] != label:
                events.append(IdEvent("split", previous, component_id[label], label))
    return Assignment([component_id[label] for label in labels.tolist()], anchors, events)


def _previous_anchor(previous: str, anchors: dict[str, Anchor], fallback: Anchor):
    anchor = anchors.get(previous) or fallback
    return (*anchor.sort_key(), previous)
