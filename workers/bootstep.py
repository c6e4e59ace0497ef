"""The worker bootstep: register, heartbeat, dispatch, drain and deregister.

Runs in the worker's main process. On start it first deregisters its name (a predecessor
killed and restarted within its TTL may still hold bindings: they are requeued and its queue
of messages dropped), then registers the worker as a scheduling target (capacity = pool
concurrency, weight, queues, task types, resources, delivery "celery", a fresh incarnation
token) and as a service of type "worker" in the registry, consumes its own queue, and starts
two threads:
- heartbeat: every ``celery.heartbeat_interval`` renews the worker's expiry and its tasks'
  leases, reporting its live load (running tasks / slots) to the scheduler and the registry;
  a worker the cluster forgot (TTL passed) registers again;
- dispatcher: wakes on 'work' events (a submit) or every ``celery.dispatch_interval``,
  dispatches, and runs the lease sweep and delayed promotion when it wins that interval's
  cluster-wide lock (so N workers do not repeat the same sweep N times).
Heartbeats run in a thread, not on the consumer's timer, so slow Redis I/O never delays
message consumption. On warm shutdown the worker drains (no new tasks) and deregisters once
its pool has finished.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from typing import Any, ClassVar

from celery import bootsteps
from celery.worker import state as worker_state

from beat.locks import try_acquire
from coordination.errors import CoordinationError, NotFoundError
from coordination.quantity import parse_resources
from workers.context import WorkerContext, context
from workers.dispatcher import DELIVERY, INCARNATION_ENV, Dispatcher

log = logging.getLogger(__name__)

WORKER_SERVICE = "celery-worker"
SWEEP_LOCK = "lease_sweep"  # shared with beat's coord.maintenance.lease_sweep


def parse_resource_option(raw: str | None) -> dict[str, str]:
    """``"cpu=2,memory=4Gi"`` -> {"cpu": "2", "memory": "4Gi"} (validated by the scheduler)."""
    if not raw:
        return {}
    out: dict[str, str] = {}
    for part in raw.split(","):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise CoordinationError(f"--coord-resources: {part!r} is not name=quantity")
        out[name.strip()] = value.strip()
    parse_resources(out, field="--coord-resources")
    return out


def split_csv(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


class CoordinationStep(bootsteps.StartStopStep):  # type: ignore[misc]
    requires: ClassVar[set[str]] = {"celery.worker.consumer.tasks:Tasks"}

    def __init__(
        self,
        parent: Any,
        coord_weight: int | None = None,
        coord_resources: str | None = None,
        coord_task_types: str | None = None,
        coord_queues: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(parent, **kwargs)
        self.weight = int(coord_weight or 1)
        self.resources = parse_resource_option(coord_resources)
        self.task_types = split_csv(coord_task_types)
        self.queues = split_csv(coord_queues) or ["default"]
        self.stopping = threading.Event()
        self.threads: list[threading.Thread] = []
        self.worker_id = ""
        self.service_id = ""
        self.capacity = 1
        # Runs before the pool forks: children inherit the token through the environment.
        self.incarnation = uuid.uuid4().hex
        os.environ[INCARNATION_ENV] = self.incarnation

    # -- lifecycle -----------------------------------------------------------------------
    def start(self, consumer: Any) -> None:
        """Runs at process start, and again each time Celery restarts the consumer (after a
        lost broker connection): only the first run cleans up and starts the threads."""
        ctx = context()
        consumer.add_task_queue(ctx.keys.celery.worker_queue(consumer.hostname))
        if self.threads:  # a consumer restart: register again (clears draining), keep going
            self.safely(lambda: self.register(ctx))
            return
        self.worker_id = consumer.hostname
        self.capacity = int(consumer.controller.concurrency or 1)
        self.service_id = f"worker:{self.worker_id}"
        # A predecessor under this name (killed, restarted within its TTL) may still hold
        # bindings nobody runs: leaving first requeues them and drops its queue of messages.
        ctx.scheduler.deregister_worker(self.worker_id)
        self.register(ctx)
        dispatcher = Dispatcher(consumer.app, ctx)
        self.threads = [
            threading.Thread(
                target=self.heartbeat_loop, args=(ctx,), name="coord-heartbeat", daemon=True
            ),
            threading.Thread(
                target=self.dispatch_loop,
                args=(ctx, dispatcher),
                name="coord-dispatch",
                daemon=True,
            ),
        ]
        for thread in self.threads:
            thread.start()
        self.safely(dispatcher.dispatch_once)

    def stop(self, consumer: Any) -> None:
        """Warm shutdown (or a consumer restart) begins: take no new tasks; running ones
        finish and report. A restart registers again, which clears the draining flag."""
        if self.worker_id:
            self.safely(lambda: context().scheduler.set_worker_draining(self.worker_id, True))

    def shutdown(self, consumer: Any) -> None:
        """The pool has finished: leave the cluster (anything still bound is requeued)."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=5)
        if self.worker_id:
            ctx = context()
            self.safely(lambda: ctx.scheduler.deregister_worker(self.worker_id))
            self.safely(lambda: ctx.registry.deregister_service(self.service_id))

    # -- registration and heartbeats -----------------------------------------------------
    def register(self, ctx: WorkerContext) -> None:
        ttl = ctx.settings.scheduler.worker_ttl
        ctx.scheduler.register_worker(
            self.worker_id,
            self.capacity,
            weight=self.weight,
            queues=self.queues,
            task_types=self.task_types or None,
            resources=self.resources or None,
            ttl=ttl,
            delivery=DELIVERY,
            incarnation=self.incarnation,
        )
        ctx.registry.register_service(
            service_name=WORKER_SERVICE,
            service_type="worker",
            host=socket.gethostname(),
            port=None,
            service_id=self.service_id,
            weight=self.weight,
            ttl=ttl,
            metadata={
                "worker_id": self.worker_id,
                "capacity": self.capacity,
                "queues": self.queues,
                "task_types": self.task_types,
                "resources": self.resources,
            },
        )

    def live_load(self) -> tuple[float, int]:
        """(running tasks / slots, running tasks) from Celery's own worker state."""
        running = len(worker_state.active_requests)
        return min(1.0, running / max(1, self.capacity)), running

    def heartbeat_once(self, ctx: WorkerContext) -> None:
        ttl = ctx.settings.scheduler.worker_ttl
        load, running = self.live_load()
        try:
            ctx.scheduler.worker_heartbeat(self.worker_id, load=load, ttl=ttl)
            ctx.registry.update_heartbeat(self.service_id, load=load, connections=running)
        except NotFoundError:
            log.warning("worker %s was forgotten by the cluster; registering again", self.worker_id)
            self.register(ctx)

    def heartbeat_loop(self, ctx: WorkerContext) -> None:
        interval = ctx.settings.celery.heartbeat_interval
        while not self.stopping.wait(interval):
            self.safely(lambda: self.heartbeat_once(ctx))

    # -- dispatching ---------------------------------------------------------------------
    def dispatch_loop(self, ctx: WorkerContext, dispatcher: Dispatcher) -> None:
        interval = ctx.settings.celery.dispatch_interval
        pubsub = None
        while not self.stopping.is_set():
            try:
                if pubsub is None:
                    pubsub = ctx.redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
                    pubsub.subscribe(ctx.keys.celery.events_channel)
                message = pubsub.get_message(timeout=interval)
                while message is not None:  # coalesce a burst of events into one dispatch
                    self.handle_event(dispatcher, str(message.get("data", "")))
                    message = pubsub.get_message(timeout=0)
                # The sweeps are cluster-wide work: one process per interval does them (the
                # lock beat's lease_sweep takes too), every worker still dispatches.
                if try_acquire(ctx.redis, ctx.keys, SWEEP_LOCK, interval):
                    ctx.scheduler.requeue_expired_leases()
                    ctx.scheduler.promote_delayed_tasks()
                dispatcher.dispatch_once()
            except Exception:
                log.exception("dispatcher loop error; retrying")
                pubsub = None
                self.stopping.wait(interval)
        if pubsub is not None:
            self.safely(pubsub.close)

    def handle_event(self, dispatcher: Dispatcher, data: str) -> None:
        """'cancel:<task_id>:<worker_id>' revokes a cancelled task running here; anything
        else is a wake-up for the dispatch that follows."""
        kind, _, rest = data.partition(":")
        if kind != "cancel":
            return
        task_id, _, worker_id = rest.partition(":")
        if worker_id == self.worker_id:
            dispatcher.app.control.revoke(
                task_id, terminate=True, signal="SIGKILL", destination=[self.worker_id]
            )

    @staticmethod
    def safely(fn: Any) -> None:
        try:
            fn()
        except Exception:
            log.exception("coordination step error")
