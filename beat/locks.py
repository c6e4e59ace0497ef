"""A short lock per maintenance task, so a second beat or a repeated send is harmless.

The lock is not released: its TTL is slightly under the task's period, so it also limits the
task to one run per period across the cluster (saq's upkeep pattern).
"""

from __future__ import annotations

import uuid

from coordination.keys import Keys
from coordination.redis_client import CoordRedis


def try_acquire(client: CoordRedis, keys: Keys, name: str, period: float) -> bool:
    """True when this caller may run ``name`` now."""
    ttl_ms = max(100, int(period * 900))  # 90 % of the period
    return bool(client.set(keys.beat.lock(name), uuid.uuid4().hex, nx=True, px=ttl_ms))
