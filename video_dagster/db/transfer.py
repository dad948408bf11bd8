"""Import and export pipelines as JSON (DESIGN §4)."""

from __future__ import annotations

import codecs
import os
import uuid
from typing import Any

import sqlalchemy as sa

from video_dagster.db import editing, validation
from video_dagster.domain import jsonlimits

# A pipeline document is small; a node's config may nest MAX_DEPTH deep below doc/nodes/node.
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
MAX_DOCUMENT_DEPTH = jsonlimits.MAX_DEPTH + 3


class DocumentError(ValueError):
    """The file is not a pipeline document."""


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM optional) or UTF-16 with a BOM, strictly; DocumentError otherwise."""
    encoding = "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        name = "UTF-16" if encoding == "utf-16" else "UTF-8"
        raise DocumentError(f"is not valid {name} text ({exc.reason} at byte {exc.start})"
                            ) from None


def parse_document(data: bytes) -> Any:
    """Parse a document file's bytes within the JSON limits; DocumentError says why not."""
    text = decode_text(data)
    try:
        return jsonlimits.loads(text, max_bytes=MAX_DOCUMENT_BYTES, max_depth=MAX_DOCUMENT_DEPTH)
    except jsonlimits.JsonLimitError as exc:
        raise DocumentError(str(exc)) from None


def read_document(path: str | os.PathLike[str]) -> Any:
    """Read and parse a document file; DocumentError (one line) for any unusable file."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise DocumentError(f"cannot read {os.fspath(path)}: {exc.strerror or exc}") from None
    try:
        return parse_document(data)
    except DocumentError as exc:
        raise DocumentError(f"cannot read {os.fspath(path)}: {exc}") from None


def _remap(value: Any, ids: dict[str, str]) -> Any:
    """Rewrite references to file ids into database ids (strings and lists of strings)."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [_remap(v, ids) for v in value]
    return value


def import_pipeline(conn: sa.Connection, doc: Any) -> str:
    """Create a pipeline from a document; node ids are fresh, inputs follow them."""
    if not isinstance(doc, dict) or not isinstance(doc.get("title"), str):
        raise DocumentError("a pipeline document is an object with a string 'title'")
    if bad := jsonlimits.problem(doc, MAX_DOCUMENT_DEPTH):
        raise DocumentError(f"the document {bad}")
    nodes = doc.get("nodes", [])
    nodes = [] if nodes is None else nodes
    if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
        raise DocumentError("'nodes' must be a list of objects")
    for i, n in enumerate(nodes):
        if not isinstance(n.get("type"), str) or not n.get("type"):
            raise DocumentError(f"node {i} has no 'type'")
    file_ids = [str(n.get("id") or f"#{i}") for i, n in enumerate(nodes)]
    if len(set(file_ids)) != len(file_ids):
        raise DocumentError("node ids in the file must be unique")
    ids = {fid: str(uuid.uuid4()) for fid in file_ids}
    pid = editing.create_pipeline(
        conn,
        doc["title"],
        version=str(doc.get("version") or "1.0"),
        config=doc.get("config") if isinstance(doc.get("config"), dict) else {},
        metadata=doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {},
    )
    for fid, n in zip(file_ids, nodes, strict=True):
        inputs = n.get("inputs") or {}
        if isinstance(inputs, dict):
            inputs = {slot: _remap(v, ids) for slot, v in inputs.items()}
        editing.create_node(
            conn,
            pid,
            title=str(n.get("title") or n["type"]),
            type=n["type"],
            inputs=inputs,
            config=n.get("config") or {},
            asset=n.get("asset"),
            node_id=ids[fid],
            validate=False,
        )
    validation.validate_one(conn, pid)
    return pid


def export_pipeline(conn: sa.Connection, pipeline_id: str) -> dict[str, Any]:
    """The pipeline's structure as a document `import_pipeline` accepts."""
    row = conn.execute(
        sa.text(
            "SELECT title, version, config, metadata FROM video_production_pipelines "
            "WHERE id = CAST(:id AS uuid)"
        ),
        {"id": editing.check_uuid(pipeline_id, "pipeline")},
    ).first()
    if row is None:
        raise editing.EditError(f"no pipeline {pipeline_id}")
    doc = _document(row, editing.list_nodes(conn, pipeline_id))
    # A column Python could not read (jsonlimits.Unreadable) cannot be written back out either.
    for where, value in [("pipeline config", row.config), ("pipeline metadata", row.metadata)] + [
        (f"node {n['id']} {column}", n[column]) for n in doc["nodes"]
        for column in ("inputs", "config", "asset")
    ]:
        if isinstance(value, jsonlimits.Unreadable):
            raise DocumentError(f"cannot export pipeline {pipeline_id}: {where} {value.message}")
    return doc


def _document(row: Any, nodes: list[Any]) -> dict[str, Any]:
    return {
        "title": row.title,
        "version": row.version,
        "config": row.config,
        "metadata": row.metadata,
        "nodes": [
            {
                "id": n.id,
                "title": n.title,
                "type": n.type,
                "inputs": n.inputs,
                "config": n.config,
                "asset": n.asset,
            }
            for n in nodes
        ],
    }
