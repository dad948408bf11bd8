"""Editing commands for the CLI, imports and tests (DESIGN §4).

These are the only places this project writes structure columns. Every command validates the
pipeline it touched in the same transaction, so callers see `is_valid`/`validation_errors` at once.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from video_dagster.db import validation
from video_dagster.domain.nodes import node_type_of


class EditError(ValueError):
    """An editing command was refused (unknown id, forbidden change)."""


@dataclass(frozen=True)
class NodeRecord:
    """A node row as the CLI and tests see it."""

    id: str
    pipeline_id: str
    title: str
    type: str
    inputs: Any
    config: Any
    asset: Any
    status: str
    is_valid: bool
    validation_errors: dict[str, str]
    metadata: Any
    output: Any


_NODE_COLUMNS = (
    "id::text AS id, pipeline_id::text AS pipeline_id, title, type, inputs, config, asset, "
    "status, is_valid, validation_errors, metadata, output"
)


def _j(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def check_uuid(value: str, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise EditError(f"{what} {value!r} is not a UUID") from exc


def create_pipeline(
    conn: sa.Connection,
    title: str,
    version: str = "1.0",
    config: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    pipeline_id: str | None = None,
) -> str:
    """Insert a pipeline; return its id."""
    return str(
        conn.execute(
            sa.text(
                "INSERT INTO video_production_pipelines (id, title, version, config, metadata) "
                "VALUES (coalesce(CAST(:id AS uuid), gen_random_uuid()), :title, :version, "
                "CAST(:config AS jsonb), CAST(:metadata AS jsonb)) RETURNING id"
            ),
            {
                "id": pipeline_id,
                "title": title,
                "version": version,
                "config": json.dumps(config or {}),
                "metadata": json.dumps(metadata or {}),
            },
        ).scalar_one()
    )


def update_pipeline(conn: sa.Connection, pipeline_id: str, **fields: Any) -> None:
    """Update title, version or config (config replaced wholesale)."""
    allowed = {"title", "version", "config"}
    unknown = set(fields) - allowed
    if unknown:
        raise EditError(f"cannot update pipeline field(s): {', '.join(sorted(unknown))}")
    sets = ", ".join(
        f"{k} = CAST(:{k} AS jsonb)" if k == "config" else f"{k} = :{k}" for k in fields
    )
    params = {k: json.dumps(v) if k == "config" else v for k, v in fields.items()}
    if not sets:
        return
    res = conn.execute(
        sa.text(f"UPDATE video_production_pipelines SET {sets} WHERE id = CAST(:pid AS uuid)"),
        {**params, "pid": check_uuid(pipeline_id, "pipeline")},
    )
    if res.rowcount == 0:
        raise EditError(f"no pipeline {pipeline_id}")


def destroy_pipeline(conn: sa.Connection, pipeline_id: str) -> None:
    """Delete a pipeline and (by cascade) its nodes."""
    res = conn.execute(
        sa.text("DELETE FROM video_production_pipelines WHERE id = CAST(:pid AS uuid)"),
        {"pid": check_uuid(pipeline_id, "pipeline")},
    )
    if res.rowcount == 0:
        raise EditError(f"no pipeline {pipeline_id}")


def create_node(
    conn: sa.Connection,
    pipeline_id: str,
    title: str,
    type: str,
    inputs: Any = None,
    config: Any = None,
    asset: Any = None,
    node_id: str | None = None,
    validate: bool = True,
) -> str:
    """Store a node (even an invalid one) and validate its pipeline; return its id."""
    nid = conn.execute(
        sa.text(
            "INSERT INTO video_production_nodes"
            " (id, pipeline_id, title, type, inputs, config, asset, created_at)"
            " VALUES (coalesce(CAST(:id AS uuid), gen_random_uuid()), CAST(:pid AS uuid), :title,"
            " :type, CAST(:inputs AS jsonb), CAST(:config AS jsonb), CAST(:asset AS jsonb),"
            " clock_timestamp())"
            " RETURNING id"
        ),
        {
            "id": node_id,
            "pid": check_uuid(pipeline_id, "pipeline"),
            "title": title,
            "type": type,
            "inputs": json.dumps({} if inputs is None else inputs),
            "config": json.dumps({} if config is None else config),
            "asset": _j(asset),
        },
    ).scalar_one()
    if validate:
        validation.validate_one(conn, pipeline_id)
    return str(nid)


def get_node(conn: sa.Connection, node_id: str) -> NodeRecord:
    """Read one node."""
    row = conn.execute(
        sa.text(f"SELECT {_NODE_COLUMNS} FROM video_production_nodes WHERE id = CAST(:id AS uuid)"),
        {"id": check_uuid(node_id, "node")},
    ).first()
    if row is None:
        raise EditError(f"no node {node_id}")
    return NodeRecord(**row._asdict())


def list_nodes(conn: sa.Connection, pipeline_id: str) -> list[NodeRecord]:
    """Every node of a pipeline, in creation order."""
    rows = conn.execute(
        sa.text(
            f"SELECT {_NODE_COLUMNS} FROM video_production_nodes "
            "WHERE pipeline_id = CAST(:pid AS uuid) ORDER BY created_at, id"
        ),
        {"pid": check_uuid(pipeline_id, "pipeline")},
    )
    return [NodeRecord(**r._asdict()) for r in rows]


_UNSET: Any = object()


def update_node(
    conn: sa.Connection,
    node_id: str,
    *,
    title: str = _UNSET,
    type: str = _UNSET,
    inputs: Any = _UNSET,
    config: Any = _UNSET,
    asset: Any = _UNSET,
) -> NodeRecord:
    """Replace title/inputs/config/asset wholesale; `type` cannot change.

    The database trigger decides whether the structure really changed (and resets status).
    """
    current = get_node(conn, node_id)
    if type is not _UNSET and type != current.type:
        raise EditError(f"type cannot change (node {node_id} is {current.type})")
    sets, params = [], {"id": current.id}
    if title is not _UNSET:
        sets.append("title = :title")
        params["title"] = title
    for name, value in (("inputs", inputs), ("config", config)):
        if value is not _UNSET:
            sets.append(f"{name} = CAST(:{name} AS jsonb)")
            params[name] = json.dumps({} if value is None else value)
    if asset is not _UNSET:
        sets.append("asset = CAST(:asset AS jsonb)")
        params["asset"] = _j(asset)
    if sets:
        conn.execute(
            sa.text(f"UPDATE video_production_nodes SET {', '.join(sets)} WHERE id = :id"), params
        )
        validation.validate_one(conn, current.pipeline_id)
    return get_node(conn, node_id)


def _without_reference(node_type: str, inputs: Any, removed: str) -> Any:
    """Inputs with `removed` taken out: dropped from lists, a single slot holding it removed."""
    if not isinstance(inputs, dict):
        return inputs
    spec = node_type_of(node_type)
    result: dict[str, Any] = {}
    for slot, value in inputs.items():
        slot_spec = spec.slot(slot) if spec is not None else None
        single = slot_spec is not None and not slot_spec.multiple
        if isinstance(value, list) and removed in value:
            if single:
                continue
            result[slot] = [v for v in value if v != removed]
        elif value == removed:
            continue
        else:
            result[slot] = value
    return result


def destroy_node(conn: sa.Connection, node_id: str) -> None:
    """Delete a node and remove references to it from its siblings."""
    current = get_node(conn, node_id)
    siblings = conn.execute(
        sa.text(
            "SELECT id::text AS id, type, inputs FROM video_production_nodes "
            "WHERE pipeline_id = CAST(:pid AS uuid) AND id <> CAST(:id AS uuid) "
            "AND jsonb_path_exists(inputs, '$.** ? (@ == $nid)', jsonb_build_object('nid', :id))"
            " ORDER BY id FOR UPDATE"
        ),
        {"pid": current.pipeline_id, "id": current.id},
    ).all()
    for s in siblings:
        conn.execute(
            sa.text(
                "UPDATE video_production_nodes SET inputs = CAST(:inputs AS jsonb) WHERE id = :id"
            ),
            {"id": s.id, "inputs": json.dumps(_without_reference(s.type, s.inputs, current.id))},
        )
    conn.execute(sa.text("DELETE FROM video_production_nodes WHERE id = :id"), {"id": current.id})
    validation.validate_one(conn, current.pipeline_id)
