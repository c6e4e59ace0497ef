"""The error hierarchy. Everything the library raises on purpose is a CoordinationError.

Redis connection errors and timeouts are translated at the client boundary
(``coordination.redis_client``) into RedisUnavailableError naming the masked URL.
"""

from __future__ import annotations

from typing import Any


class CoordinationError(Exception):
    """Base of every error this library raises on purpose."""


class ConfigurationError(CoordinationError):
    """The settings could not be loaded: names the key and the reason."""


class InvalidInputError(CoordinationError, ValueError):
    """A public call got bad input. ``field`` names it, ``reason`` says what was wrong."""

    def __init__(self, field: str, reason: str, *, errors: list[dict[str, Any]] | None = None):
        self.field = field
        self.reason = reason
        self.errors = errors or [{"field": field, "reason": reason}]
        super().__init__(f"{field}: {reason}")

    @classmethod
    def from_pydantic(cls, exc: Any, prefix: str = "") -> InvalidInputError:
        """Build from a pydantic ValidationError, naming the first bad field (all kept in .errors)."""
        errors = [
            {
                "field": prefix + ".".join(str(p) for p in err.get("loc", ())) or "value",
                "reason": err.get("msg", "invalid"),
            }
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"field": prefix or "value", "reason": "invalid"}
        return cls(first["field"], first["reason"], errors=errors)


class RedisUnavailableError(CoordinationError, ConnectionError):
    """Redis could not be reached (refused, timed out, DNS). ``url`` has its password masked."""

    def __init__(self, url: str, cause: BaseException | None = None):
        self.url = url
        detail = f": {cause}" if cause else ""
        super().__init__(f"cannot reach Redis at {url}{detail}")


class ScriptError(CoordinationError):
    """A Lua script failed inside Redis for a reason other than connectivity."""


class NotFoundError(CoordinationError, KeyError):
    """The named object does not exist (or has expired)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "not found"


class InvalidTransitionError(CoordinationError):
    """A state change is not allowed from the object's current state; nothing was changed."""


class CapacityError(CoordinationError):
    """A request can never fit, or a hard limit (max_services, max_containers) was reached."""
