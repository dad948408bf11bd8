"""What one invocation costs: Lambda's billed duration x memory, at the x86_64 list price."""

from __future__ import annotations

import math
import os

PRICE_PER_GB_SECOND = 0.0000166667  # USD, x86_64, us-east-1
PRICE_PER_REQUEST = 0.0000002
MEMORY_ENV = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"  # set by Lambda; the local invoker sets it too


def cost(memory_mb: float, billed_seconds: float) -> float:
    """USD for one request billed `billed_seconds` at `memory_mb`."""
    gb_seconds = memory_mb / 1024 * max(0.0, billed_seconds)
    return round(gb_seconds * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST, 10)


def billing(context: object, elapsed: float) -> dict[str, float]:
    """`{billed_seconds, memory_mb, cost}` (Lambda bills whole milliseconds); {} if unknown."""
    memory = getattr(context, "memory_limit_in_mb", None) or os.environ.get(MEMORY_ENV)
    try:
        memory_mb = float(memory) if memory is not None else 0.0
    except ValueError:
        return {}
    if memory_mb <= 0:
        return {}
    billed = math.ceil(elapsed * 1000) / 1000
    return {"billed_seconds": billed, "memory_mb": memory_mb, "cost": cost(memory_mb, billed)}
