"""HealthChecker: probe every live instance and move its status with flap thresholds.

Per instance, the probe is the custom check registered for its service name if any, else an
HTTP GET of ``health_check_url`` (2xx = healthy), else a TCP connect to host:port. Instances
registered with ``check="ttl"`` are heartbeat-only and never probed. Each probe has a timeout
(``health_check_timeout``) and at most ``health_check_concurrency`` run at once, so one slow
service cannot stall the rest. Results go through one script that applies
``failures_before_unhealthy`` / ``successes_before_healthy`` and appends to a capped history.

Custom checks are Python callables, so they live in this process: register them in every
process that runs checks. ``run_once()`` is what beat calls; ``start()``/``stop()`` run a loop
every ``health_check_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import httpx

from coordination.errors import InvalidInputError
from coordination.registry.checks import CustomCheck, custom_check, describe, http_check, tcp_check
from coordination.registry.models import HealthRecord, ServiceInfo, validate_id
from coordination.registry.service_registry import ServiceRegistry

log = logging.getLogger(__name__)


class HealthChecker:
    """``HealthChecker(registry)``; ``await initialize()`` before checking."""

    def __init__(self, registry: ServiceRegistry):
        self.registry = registry
        self.cfg = registry.settings.registry
        self._custom: dict[str, CustomCheck] = {}
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Event | None = None

    async def initialize(self) -> None:
        await self.registry.initialize()
        if self._http is None:
            # trust_env=False: a proxy from the environment must not sit between us and the probe
            self._http = httpx.AsyncClient(
                timeout=self.cfg.health_check_timeout, follow_redirects=False, trust_env=False
            )

    async def close(self) -> None:
        await self.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def register_custom_health_check(self, service_name: str, fn: CustomCheck) -> None:
        """Use ``fn(service_info) -> bool`` (sync or async) for every instance of the name."""
        if not service_name:
            raise InvalidInputError("service_name", "must not be empty")
        if not callable(fn):
            raise InvalidInputError("fn", "must be callable")
        self._custom[service_name] = fn

    async def unregister_custom_health_check(self, service_name: str) -> bool:
        return self._custom.pop(service_name, None) is not None

    async def check_service(self, info: ServiceInfo) -> tuple[bool, float, str]:
        """Probe one instance (no state change): (healthy, response time ms, error)."""
        if self._http is None:
            await self.initialize()
        started = time.perf_counter()
        try:
            error = await asyncio.wait_for(self._probe(info), self.cfg.health_check_timeout)
        except Exception as exc:
            error = describe(exc)
        elapsed = (time.perf_counter() - started) * 1000
        return error is None, elapsed, error or ""

    async def _probe(self, info: ServiceInfo) -> str | None:
        fn = self._custom.get(info.service_name)
        if fn is not None:
            return await custom_check(fn, info)
        if info.health_check_url:
            assert self._http is not None
            return await http_check(self._http, info.health_check_url)
        if info.port is None:
            return "nothing to probe: no port, URL or custom check"
        return await tcp_check(info.host, info.port)

    async def _check_and_record(
        self, info: ServiceInfo, limit: asyncio.Semaphore
    ) -> dict[str, Any]:
        async with limit:
            ok, elapsed, error = await self.check_service(info)
        op = self.registry.ops.check_result(info.service_id, ok, elapsed, error)
        change = await self.registry._run(op)
        if change is None:
            return {"service_id": info.service_id, "ok": ok, "dropped": True}
        new, old = change
        if new is not old:
            log.info("service %s: %s -> %s (%s)", info.service_id, old, new, error or "ok")
        return {"service_id": info.service_id, "ok": ok, "status": new, "old_status": old}

    async def run_once(self) -> dict[str, Any]:
        """Check every live instance once; returns a summary of the round."""
        if self._http is None:
            await self.initialize()
        started = time.perf_counter()
        infos = await self.registry.find_services()
        targets = [i for i in infos if i.check != "ttl"]
        limit = asyncio.Semaphore(self.cfg.health_check_concurrency)
        results = await asyncio.gather(*(self._check_and_record(i, limit) for i in targets))
        changed = [
            {"service_id": r["service_id"], "from": r["old_status"].value, "to": r["status"].value}
            for r in results
            if "status" in r and r["status"] is not r["old_status"]
        ]
        return {
            "checked": len(targets),
            "passed": sum(r["ok"] for r in results),
            "failed": sum(not r["ok"] for r in results),
            "skipped": len(infos) - len(targets),
            "changed": changed,
            "duration_s": round(time.perf_counter() - started, 4),
        }

    async def get_health_history(self, service_id: str, limit: int = 50) -> list[HealthRecord]:
        """The newest ``limit`` check results of an instance, newest first."""
        validate_id(service_id)
        if not isinstance(limit, int) or limit < 1:
            raise InvalidInputError("limit", "must be a positive integer")
        key = self.registry.keys.registry.history(service_id)
        raw: list[Any] = await self.registry.client.lrange(key, 0, limit - 1)
        out = []
        for item in raw:
            data = json.loads(item)
            data["timestamp"] = data["timestamp"] / 1000.0
            out.append(HealthRecord.model_validate(data))
        return out

    async def start(self) -> None:
        """Run ``run_once`` every ``health_check_interval`` seconds until ``stop()``."""
        if self._task is not None and not self._task.done():
            return
        await self.initialize()
        self._stopping = asyncio.Event()
        self._task = asyncio.create_task(self._loop(self._stopping), name="health-checker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None or self._stopping is None:
            return
        self._stopping.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _loop(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("health check round failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.cfg.health_check_interval)
