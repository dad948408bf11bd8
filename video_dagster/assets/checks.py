"""Asset checks of every node: `valid` (validation verdict) and `output` (exists and probes)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey

CHECK_VALID = "valid"
CHECK_OUTPUT = "output"
# Output names of the check results in every node op (op-local, so shared by all ops).
CHECK_OUTPUTS = {f"check_{CHECK_VALID}": CHECK_VALID, f"check_{CHECK_OUTPUT}": CHECK_OUTPUT}
# Larger S3 outputs are checked for existence and size only: probing would download them.
MAX_PROBE_BYTES = 256 * 1024 * 1024
# Which stream a media output must carry.
_STREAM_BY_TYPE = {"video": "video", "audio": "audio", "image": "video"}


def check_specs(key: AssetKey) -> dict[str, AssetCheckSpec]:
    """The node's two checks, by op output name."""
    descriptions = {
        CHECK_VALID: "The node passes validation (its errors are the check's metadata).",
        CHECK_OUTPUT: "The output exists in the store; media probes with duration > 0 and the "
                      "expected stream.",
    }
    return {out: AssetCheckSpec(name, asset=key, description=descriptions[name])
            for out, name in CHECK_OUTPUTS.items()}


def valid_result(key: AssetKey, is_valid: bool, errors: Mapping[str, str]) -> AssetCheckResult:
    """The `valid` check from a validation verdict."""
    meta: dict[str, Any] = {f"error: {k}": str(v) for k, v in sorted(errors.items())}
    return AssetCheckResult(asset_key=key, check_name=CHECK_VALID, passed=is_valid,
                            metadata=meta or {"errors": "none"})


def output_result(key: AssetKey, output: Mapping[str, Any] | None, store: Any) -> AssetCheckResult:
    """The `output` check: the object exists, is not empty, and media probes as expected."""
    passed, meta = inspect_output(output, store)
    return AssetCheckResult(asset_key=key, check_name=CHECK_OUTPUT, passed=passed, metadata=meta,
                            severity=AssetCheckSeverity.ERROR)


def inspect_output(output: Mapping[str, Any] | None, store: Any) -> tuple[bool, dict[str, Any]]:
    """(passed, metadata) for a node's output; never raises."""
    if not output:
        return False, {"problem": "the node has no output"}
    key = output.get("s3Key")
    kind = str(output.get("type") or "")
    if not isinstance(key, str) or not key:
        text_ok = kind == "text" and bool(output.get("text"))
        return text_ok, ({"inline": "text"} if text_ok else {"problem": "no s3Key in the output"})
    try:
        info = store.stat(key)
    except Exception as exc:  # a check reports, it never fails the step
        return False, {"problem": f"cannot stat {key}: {type(exc).__name__}"}
    if info is None:
        return False, {"problem": f"{key} is not in the store"}
    meta: dict[str, Any] = {"size_bytes": int(info.size)}
    if info.size <= 0:
        return False, {**meta, "problem": "the object is empty"}
    stream = _STREAM_BY_TYPE.get(kind)
    if stream is None:
        return True, meta
    if info.size > MAX_PROBE_BYTES and not hasattr(store, "path"):
        return True, {**meta, "probe": f"skipped (larger than {MAX_PROBE_BYTES} bytes)"}
    return _probe(store, key, stream, meta, still=kind == "image")


def _probe(store: Any, key: str, stream: str, meta: dict[str, Any],
           still: bool) -> tuple[bool, dict[str, Any]]:
    import av

    with tempfile.TemporaryDirectory(prefix="vd-check-") as tmp:
        if hasattr(store, "path"):
            path = Path(store.path(key))
        else:
            path = Path(tmp) / "object"
            store.get_to_file(key, path)
        try:
            with av.open(os.fspath(path)) as container:
                duration = float(container.duration or 0) / 1_000_000
                kinds = sorted({s.type for s in container.streams})
        except Exception as exc:  # PyAV raises its own error types for unreadable media
            return False, {**meta, "problem": f"does not probe as media: {type(exc).__name__}"}
    meta.update({"probed_duration_seconds": round(duration, 3), "streams": ", ".join(kinds)})
    if stream not in kinds:
        return False, {**meta, "problem": f"no {stream} stream"}
    if duration <= 0 and not still:
        return False, {**meta, "problem": "duration is 0"}
    return True, meta
