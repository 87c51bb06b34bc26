"""Resolution of the identity graph into profiles: pure functions over integer-mapped arrays.

The graph is bipartite: entity records on one side, identifier values (id_type + match key) on the other, an
edge where a record carries a value. Profiles are its connected components, with one refinement for the
components that break a rule (two values of a unique type, more values of a type than a person has):

1. `connected_components` (scipy, C speed) labels every record; on the sandbox's graphs most components
   break no rule and are final at this point (engineering.md, trap 11: no recursive CTE, no label propagation).
2. Only the components that break a limit are re-resolved greedily: their values in trust order (the most
   trustworthy types first, then the values carried by fewest records, then by name), each either joining *all* its
   records or, if that would break a limit, none of them (the value is *refused*). All-or-nothing matters:
   a family email joins a partner's records to one's own only partially otherwise, and the result would
   depend on the order of records. It also keeps the result exactly equal to the connected components of
   the kept edges, which the benchmark checks against scipy.
"""

from __future__ import annotations

from collections.abc import Callable
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


def components(n_records: int, n_values: int, edge_record: np.ndarray, edge_value: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of the bipartite graph: the label of each record and of each value (-1 for a value
    with no edge). Records are labelled 0..n_components-1.

    Only values carried by several records go to scipy: a value on one record joins nothing (most values of a
    world are so, such as each order's own id), and takes its record's label. On the large world's size this
    takes about 40% off the nodes and edges scipy sees, and off its time."""
    carriers = np.bincount(edge_value, minlength=n_values)
    joining = carriers[edge_value] > 1
    shared_index = np.cumsum(carriers > 1) - 1  # value -> its node among the shared values
    n = n_records + int(shared_index[-1]) + 1 if n_values else n_records
    rows = edge_record[joining]
    matrix = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, shared_index[edge_value[joining]] + n_records)),
                        shape=(n, n)).tocsr()
    _, labels = connected_components(matrix, directed=False)
    record_labels = labels[:n_records].astype(np.int64)
    value_labels = np.full(n_values, -1, dtype=np.int64)
    value_labels[edge_value] = record_labels[edge_record]
    return record_labels, value_labels


# Given some value numbers, the same values in the order that breaks ties between them (see `resolve`).
TieOrder = Callable[[np.ndarray], np.ndarray]


def resolve(graph: Graph, limits: dict[str, int], tie_order: TieOrder = np.sort) -> Resolution:
    """Profiles from the graph under per-profile limits (id_type -> at most that many distinct values).

    `tie_order` orders equally trusted values carried by as many records. By default their numbers; the step
    orders them by (id_type, match_key), so that the result never depends on how the warehouse numbered them,
    and asks only for the values of the components being re-resolved."""
    labels, value_labels = components(graph.n_records, graph.n_values, graph.edge_record, graph.edge_value)
    if not len(graph.edge_record):
        return Resolution(labels)
    breaking = _components_breaking_limits(graph, labels, value_labels, limits)
    if not len(breaking):
        return Resolution(labels)
    in_breaking = np.isin(labels[graph.edge_record], breaking)
    limit_of_type = {graph.type_names.index(t): n for t, n in limits.items() if t in graph.type_names}
    roots, refused = _greedy(graph, graph.edge_record[in_breaking], graph.edge_value[in_breaking], limit_of_type,
                            tie_order)
    # Records of re-resolved components take labels after all others: root record ids, made distinct.
    relabelled = labels.copy()
    records = np.fromiter(roots, dtype=np.int64, count=len(roots))
    relabelled[records] = labels.max() + 1 + np.fromiter(roots.values(), dtype=np.int64, count=len(roots))
    return Resolution(_compact(relabelled), refused, greedy_components=len(breaking))


def kept_edges(graph: Graph, resolution: Resolution) -> np.ndarray:
    """Mask of the edges whose value was not refused: the post-rule edge list."""
    if not resolution.refused_values:
        return np.ones(len(graph.edge_record), dtype=bool)
    return ~np.isin(graph.edge_value, np.fromiter(resolution.refused_values, dtype=np.int64))


def _components_breaking_limits(
    graph: Graph, labels: np.ndarray, value_labels: np.ndarray, limits: dict[str, int]
) -> np.ndarray:
    no_limit = np.iinfo(np.int64).max
    limit_of_type = np.full(len(graph.type_names), no_limit, dtype=np.int64)
    for type_name, limit in limits.items():
        if type_name in graph.type_names:
            limit_of_type[graph.type_names.index(type_name)] = limit
    # A value lies in exactly one component, so counting values per (component, type) needs no de-duplication.
    n_types = len(graph.type_names)
    limited = limit_of_type[graph.value_type] < no_limit
    per_type = np.bincount(value_labels[limited] * n_types + graph.value_type[limited],
                           minlength=(int(labels.max()) + 1) * n_types)
    return np.flatnonzero((per_type.reshape(-1, n_types) > limit_of_type).any(axis=1))


def _greedy(
    graph: Graph, edge_record: np.ndarray, edge_value: np.ndarray, limit_of_type: dict[int, int],
    tie_order: TieOrder,
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

    tie_rank = {v: rank for rank, v in enumerate(tie_order(np.fromiter(records_of_value, dtype=np.int64)).tolist())}
    order = sorted(records_of_value, key=lambda v: (graph.value_trust[v], len(records_of_value[v]), tie_rank[v]))
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
