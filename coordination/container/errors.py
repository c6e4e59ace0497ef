"""Errors of the container subsystem (runtime failures translated at the runtime boundary)."""

from __future__ import annotations

from coordination.errors import CoordinationError


class ContainerRuntimeError(CoordinationError):
    """A runtime (Docker engine or local processes) refused or failed an operation.

    ``runtime`` names the runtime ("docker" or "process"); the message says what failed and,
    where it helps, what to do about it.
    """

    def __init__(self, runtime: str, message: str):
        self.runtime = runtime
        super().__init__(f"{runtime} runtime: {message}")
