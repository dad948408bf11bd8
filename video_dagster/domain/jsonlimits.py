"""Limits on JSON that crosses a boundary: depth, numbers, text PostgreSQL can store (pure).

Python's parser and encoder recurse (RecursionError near 1,000 levels) while PostgreSQL stores
jsonb nested 10,000 deep, so every JSON value we did not write ourselves is read through here.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Far deeper than any real node config or callback, far below Python's recursion limit.
MAX_DEPTH = 64
# 2**63 has 19 digits; nothing we store needs more, and int() of 4,300+ digits raises.
MAX_INT_DIGITS = 30
_INT_BOUND = 10**MAX_INT_DIGITS
TOO_DEEP = "is nested too deeply"


class JsonLimitError(ValueError):
    """JSON we refuse to use; the message is one line, fit for a user."""


@dataclass(frozen=True)
class Unreadable:
    """Stands for a stored JSON value Python cannot parse (e.g. nested 2,000 deep)."""

    message: str

    def __repr__(self) -> str:
        return f"<unreadable JSON: {self.message}>"


def _reject_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not a JSON number")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonLimitError(f"number {text[:20]} is out of range")
    return value


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise JsonLimitError(f"integer with {len(text)} digits is too large")
    return int(text)


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def problem(value: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `value` cannot be stored or used (depth, numbers, text), or None; iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Unreadable):
            return item.message
        if isinstance(item, dict | list):
            if depth > max_depth:
                return TOO_DEEP
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str) and (bad := _text_problem(key)):
                    return f"a key {bad}"
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            if bad := _text_problem(item):
                return f"a string {bad}"
        elif isinstance(item, float) and not math.isfinite(item):
            return "holds a number that is not finite"
        elif isinstance(item, int) and abs(item) >= _INT_BOUND:
            return "holds an integer that is too large"
    return None


def loads(text: str | bytes, *, max_bytes: int | None = None, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON within the limits; JsonLimitError (one line) for anything beyond them."""
    if max_bytes is not None and len(text) > max_bytes:
        raise JsonLimitError(f"is {len(text)} bytes, more than the limit of {max_bytes}")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_parse_float,
                           parse_int=_parse_int)
    except RecursionError:
        raise JsonLimitError(TOO_DEEP) from None
    except UnicodeDecodeError as exc:
        raise JsonLimitError(f"is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise JsonLimitError(f"is not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
                             ) from None
    except JsonLimitError:
        raise
    except ValueError as exc:  # int() beyond its digit limit and the like
        raise JsonLimitError(f"is not usable JSON: {str(exc)[:120]}") from None
    bad = problem(value, max_depth)
    if bad:
        raise JsonLimitError(bad)
    return value


def stored_loads(data: str | bytes) -> Any:
    """The jsonb loader for our database driver: never raises, marks what it cannot parse."""
    try:
        return json.loads(data)
    except RecursionError:
        return Unreadable(TOO_DEEP)
    except ValueError:  # PostgreSQL's jsonb is valid JSON: only a 4,300+ digit integer fails
        return Unreadable("holds a number too large to read")
