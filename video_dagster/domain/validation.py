"""Validation of node structure (DESIGN §3): slots, config, references, cycles. Never raises.

Message decisions where DESIGN §3 leaves room:
- `<type>` in "is required for <type> nodes" is the type as the node wrote it, for slots and
  config alike, so a legacy `talking-head` node reads "is required for talking-head nodes".
- Blank means null, "", whitespace-only strings, [], {} and a one-element list holding a blank.
- Blank `inputs` (null, "", []) is an empty hash; any other non-hash gives `inputs` → "must be a
  hash" and the slots are then checked as if empty. `config` works the same way.
- Unexpected slots are reported by key, whatever their value, sorted by name.
- A multiple slot holding non-string items gives "must contain only node UUIDs (strings)"; the
  item count checks come first.
- A reference exists only when it is a UUID string equal to an id of the same pipeline.
- A flat object holds one message per key: the first one found wins (e.g. render-code's `config`
  slot before a non-hash `config`, any `inputs` error before a cycle).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from video_dagster.domain import jsonlimits
from video_dagster.domain.nodes import FieldSpec, NodeType, SlotSpec, node_type_of

_UUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_KIND_CHECKS = {
    "string": lambda v: isinstance(v, str),
    # bool is a subclass of int in Python, and 1280.0 is a JSON number but not an integer.
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "hash": lambda v: isinstance(v, dict),
}
NOT_A_SINGLE = "must be a single node UUID (string), not an array"
NOT_IDS = "must contain only node UUIDs (strings)"
_MAX_CYCLE_IDS = 12


@dataclass(frozen=True)
class NodeDraft:
    """A node's structure columns exactly as stored; any field may hold arbitrary JSON."""

    id: str
    type: Any
    inputs: Any
    config: Any


def is_blank(value: Any) -> bool:
    """True for null, blank strings, [] and {} (and a one-element list holding a blank)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list):
        single = len(value) == 1 and isinstance(value[0], str | None)
        return not value or (single and is_blank(value[0]))
    return isinstance(value, dict) and not value


def is_uuid(value: Any) -> bool:
    """True for a string in the canonical 8-4-4-4-12 hex form."""
    return isinstance(value, str) and _UUID.match(value) is not None


def _describe(value: Any) -> str:
    """A short, never-failing rendering of a raw JSON value for messages."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        # str() of a huge int raises ValueError (int_max_str_digits); keep messages short anyway.
        return str(value) if abs(value) < 10**18 else "(integer)"
    return "(array)" if isinstance(value, list) else "(hash)" if isinstance(value, dict) else "?"


def _slot_ids(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, str))


def referenced_ids(node_type: Any, inputs: Any) -> tuple[str, ...]:
    """Non-blank string ids in the known slots of a known type; slot order, then list order.

    Ids are returned as written (callers keep those that are nodes of the pipeline); both
    single-slot shapes (a string or a list) are read. Never raises.
    """
    spec = node_type_of(node_type)
    if spec is None or not isinstance(inputs, dict):
        return ()
    found: dict[str, None] = {}
    for slot in spec.slots:
        for ref in _slot_ids(inputs.get(slot.name)):
            if ref.strip():
                found.setdefault(ref)
    return tuple(found)


def _check_single(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        return None
    return NOT_A_SINGLE


def _check_multiple(slot: SlotSpec, value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be an array"
    count = len(value)
    if slot.min_items is not None and count < slot.min_items:
        return f"requires at least {slot.min_items} items, got {count}"
    if slot.max_items is not None and count > slot.max_items:
        return f"allows at most {slot.max_items} items, got {count}"
    if not all(isinstance(v, str) and v.strip() for v in value):
        return NOT_IDS
    return None


def _check_slot(
    slot: SlotSpec, value: Any, written_type: str, pipeline_ids: Collection[str]
) -> str | None:
    if is_blank(value):
        return f"is required for {written_type} nodes" if slot.required else None
    shape_error = _check_multiple(slot, value) if slot.multiple else _check_single(value)
    if shape_error:
        return shape_error
    missing = dict.fromkeys(
        ref for ref in _slot_ids(value) if not (is_uuid(ref) and ref in pipeline_ids)
    )
    return f"references non-existent nodes: {', '.join(missing)}" if missing else None


def _check_inputs(
    spec: NodeType, inputs: Any, written_type: str, pipeline_ids: Collection[str]
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if spec.name == "asset":
        if not is_blank(inputs):
            errors["unexpected_inputs"] = "asset nodes should not have inputs"
        return errors
    if is_blank(inputs):
        inputs = {}
    elif not isinstance(inputs, dict):
        errors["inputs"] = "must be a hash"
        inputs = {}
    known = {slot.name for slot in spec.slots}
    unexpected = sorted(_describe(key) for key in inputs if key not in known)
    if unexpected:
        errors["unexpected_inputs"] = f"Unexpected input slot(s): {', '.join(unexpected)}"
    for slot in spec.slots:
        message = _check_slot(slot, inputs.get(slot.name), written_type, pipeline_ids)
        if message:
            errors.setdefault(slot.name, message)
    return errors


def _check_field(field: FieldSpec, value: Any, written_type: str) -> str | None:
    if field.required and is_blank(value):
        return f"is required for {written_type} nodes"
    if value is None:
        return None
    if not _KIND_CHECKS[field.kind](value):
        return f"must be a {field.kind}"
    if field.allowed is not None and value not in field.allowed:
        return f"must be one of: {', '.join(field.allowed)}"
    return None


def _check_config(spec: NodeType, config: Any, written_type: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if is_blank(config):
        config = {}
    elif not isinstance(config, dict):
        errors["config"] = "must be a hash"
        config = {}
    for field in spec.fields:
        message = _check_field(field, config.get(field.name), written_type)
        if message:
            errors.setdefault(field.name, message)
    return errors


def validate_node(node: NodeDraft, pipeline_node_ids: Collection[str]) -> dict[str, str]:
    """The node's flat `validation_errors` (empty when valid), all §3 rules except cycles."""
    spec = node_type_of(node.type)
    if spec is None:
        return {"invalid_type": f"Unknown node type: {_describe(node.type)}"}
    written_type: str = node.type
    # JSON nested deeper than anything real (or too deep for Python to parse at all, stored as
    # jsonlimits.Unreadable) makes its column invalid; the rest is checked as if it were empty.
    errors: dict[str, str] = {}
    inputs, config = node.inputs, node.config
    if bad := jsonlimits.problem(inputs):
        errors["inputs"], inputs = bad, {}
    if bad := jsonlimits.problem(config):
        errors["config"], config = bad, {}
    for key, message in _check_inputs(spec, inputs, written_type, pipeline_node_ids).items():
        errors.setdefault(key, message)
    for key, message in _check_config(spec, config, written_type).items():
        errors.setdefault(key, message)
    return errors


def validate_pipeline(nodes: Sequence[NodeDraft]) -> dict[str, dict[str, str]]:
    """`validation_errors` for every node of one pipeline, cycles and self-references included."""
    ids = {node.id for node in nodes}
    result: dict[str, dict[str, str]] = {}
    edges: dict[str, list[str]] = {}
    for node in nodes:
        result[node.id] = validate_node(node, ids)
        targets = edges.setdefault(node.id, [])
        targets.extend(
            ref for ref in referenced_ids(node.type, node.inputs) if is_uuid(ref) and ref in ids
        )
    for node_id, message in _cycle_messages(edges).items():
        result[node_id].setdefault("inputs", message)
    return result


def _strongly_connected(edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's SCCs, iteratively (a 10,000-node chain must not hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    work: list[tuple[str, Iterator[str]]] = []
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        work.append((node, iter(edges.get(node, ()))))

    for root in edges:
        if root not in index:
            visit(root)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    visit(target)
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component: list[str] = []
                    while not component or component[-1] != node:
                        component.append(stack.pop())
                        on_stack.discard(component[-1])
                    components.append(component)
    return components


def _shortest_cycle(start: str, edges: Mapping[str, Sequence[str]], members: set[str]) -> list[str]:
    """The shortest cycle through `start` inside one strongly connected component (BFS)."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in edges.get(node, ()):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return path[::-1]
            if target in members and target not in parent:
                parent[target] = node
                queue.append(target)
    return [start]  # unreachable for a real component; keeps the function total


def _cycle_message(cycle: Sequence[str], offset: int) -> str:
    """Name the cycle starting at cycle[offset]; long cycles are shortened to stay readable."""
    size = len(cycle)
    if size == 1:
        return f"Node depends on itself: {cycle[0]}"
    shown = [cycle[(offset + i) % size] for i in range(min(size, _MAX_CYCLE_IDS))]
    if size > _MAX_CYCLE_IDS:
        shown.append(f"... ({size} nodes)")
    return "Cycle detected: " + " -> ".join([*shown, cycle[offset]])


def _cycle_messages(edges: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """A message naming one cycle through each node that is on a cycle.

    Every node of a found cycle is named by that cycle, so a ring costs one BFS; only nodes
    left uncovered in a dense component need a BFS of their own.
    """
    messages: dict[str, str] = {}
    order = {node: i for i, node in enumerate(edges)}
    for component in _strongly_connected(edges):
        if len(component) == 1 and component[0] not in edges.get(component[0], ()):
            continue
        members = set(component)
        for start in sorted(component, key=order.__getitem__):
            if start in messages:
                continue
            cycle = _shortest_cycle(start, edges, members)
            for offset, node in enumerate(cycle):
                messages.setdefault(node, _cycle_message(cycle, offset))
    return messages
