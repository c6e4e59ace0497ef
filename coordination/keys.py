"""Every Redis key name the library uses, and nothing else.

All keys of one namespace start with ``{<prefix>}:``. The braces are a Redis Cluster hash tag,
so every key of a namespace maps to one slot and any Lua script may touch any of them.
Each subsystem has its own section (a small class); add keys to your section only, never
build a key name outside this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def validate_prefix(prefix: str) -> str:
    """Prefixes may not contain braces or colons: they would break the hash tag or the layout."""
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(
            "must be 1-64 characters of letters, digits, '_', '-' or '.' (no braces or colons)"
        )
    return prefix


@dataclass(frozen=True)
class _Section:
    base: str  # "{prefix}"

    def _k(self, *parts: str) -> str:
        return ":".join((self.base, *parts))


@dataclass(frozen=True)
class SchedulerKeys(_Section):
    """Tasks, queues, workers as scheduling targets, leases, counters.

    ``*_base()`` keys end in ``:``; scripts append an id to them (same hash tag, same slot).
    """

    def task(self, task_id: str) -> str:
        return self._k("task", task_id)

    def task_base(self) -> str:
        return self._k("task", "")

    def queue_priority(self, queue: str) -> str:
        """Pending tasks of a queue, scored by priority then submit order."""
        return self._k("tqp", queue)

    def queue_priority_base(self) -> str:
        return self._k("tqp", "")

    def queue_fifo(self, queue: str) -> str:
        """Pending tasks of a queue, scored by submit order only."""
        return self._k("tqf", queue)

    def queue_fifo_base(self) -> str:
        return self._k("tqf", "")

    def queues(self) -> str:
        """Set of queue names that have held tasks (swept when empty)."""
        return self._k("tqueues")

    def delayed(self) -> str:
        """Retries and countdown/ETA tasks, scored by due time (ms)."""
        return self._k("tdelayed")

    def leases(self) -> str:
        """RUNNING tasks scored by lease expiry (ms)."""
        return self._k("tleases")

    def unstarted(self) -> str:
        """Bound but not yet started tasks, scored by start deadline (ms); push bindings
        without delivery only (pull and Celery-delivered bindings start at bind time)."""
        return self._k("tunstarted")

    def deadlines(self) -> str:
        """Started tasks with a timeout, scored by deadline (ms)."""
        return self._k("tdeadlines")

    def stats(self) -> str:
        return self._k("tstats")

    def sequence(self) -> str:
        return self._k("tseq")

    def idempotency(self, key: str) -> str:
        return self._k("tidem", key)

    def idempotency_base(self) -> str:
        return self._k("tidem", "")

    def notify(self, task_id: str) -> str:
        """Short-lived list a terminal transition pushes to (wait_for_task blocks on it)."""
        return self._k("tnotify", task_id)

    def notify_base(self) -> str:
        return self._k("tnotify", "")

    def waiting(self, task_id: str) -> str:
        """Set (with a TTL) while someone waits for the task: only then is notify pushed."""
        return self._k("twaiting", task_id)

    def waiting_base(self) -> str:
        return self._k("twaiting", "")

    def terminal_index(self, status: str) -> str:
        """Finished tasks of one terminal status, scored by finish time (ms)."""
        return self._k("tdone", status)

    def terminal_index_base(self) -> str:
        return self._k("tdone", "")

    def dead_letter(self) -> str:
        """FAILED tasks (their error is in the task hash): the terminal index of 'failed'."""
        return self.terminal_index("failed")

    def worker(self, worker_id: str) -> str:
        return self._k("tw", worker_id)

    def worker_base(self) -> str:
        return self._k("tw", "")

    def worker_tasks(self, worker_id: str) -> str:
        return self._k("twt", worker_id)

    def worker_tasks_base(self) -> str:
        return self._k("twt", "")

    def workers(self) -> str:
        """Scheduling workers scored by expiry (ms)."""
        return self._k("tworkers")

    def worker_names(self) -> str:
        """Scheduling workers, all scored 0: byte order of ids (round robin and tie order)."""
        return self._k("twnames")

    def round_robin(self) -> str:
        """Id of the worker round robin chose last."""
        return self._k("trr")


@dataclass(frozen=True)
class RegistryKeys(_Section):
    """Service instances, per-name expiry indexes, discovery state, health history."""

    def service(self, service_id: str) -> str:
        """Hash: one service instance."""
        return self._k("svc", service_id)

    def service_base(self) -> str:
        """Prefix of every instance hash; scripts append the id (same hash tag)."""
        return self._k("svc", "")

    def by_name(self, service_name: str) -> str:
        """ZSET id -> expires_at ms: every instance of a name (live, expired, offline-retained)."""
        return self._k("svcn", service_name)

    def by_name_base(self) -> str:
        """Prefix of every per-name index; scripts append the name (same hash tag)."""
        return self._k("svcn", "")

    def live(self) -> str:
        """ZSET id -> expires_at ms: instances not yet marked OFFLINE (cleanup walks it)."""
        return self._k("svcall")

    def gone(self) -> str:
        """ZSET id -> purge_at ms: OFFLINE instances kept for the retention window."""
        return self._k("svcgone")

    def round_robin(self, service_name: str) -> str:
        """Counter: shared round-robin position of a name."""
        return self._k("svcrr", service_name)

    def weighted(self, service_name: str) -> str:
        """Hash id -> current weight: smooth weighted round-robin state of a name."""
        return self._k("svcwrr", service_name)

    def history(self, service_id: str) -> str:
        """List (capped): health-check results of an instance, newest first."""
        return self._k("svchist", service_id)

    def history_base(self) -> str:
        """Prefix of every history list; scripts append the id (same hash tag)."""
        return self._k("svchist", "")


@dataclass(frozen=True)
class ResourceKeys(_Section):
    """Resource pools shared by the scheduler's ResourceAllocator and the ResourceManager.

    One pool (``pool`` = "scheduler", "containers", ...) is six keys under ``{p}:res:<pool>``.
    """

    def pool(self, pool: str) -> str:
        return self._k("res", pool)

    def capacity(self, pool: str) -> str:
        """HASH resource -> total capacity (normalized integer)."""
        return self._k("res", pool, "cap")

    def used(self, pool: str) -> str:
        """HASH resource -> amount held by granted allocations."""
        return self._k("res", pool, "used")

    def allocations(self, pool: str) -> str:
        """HASH request id -> JSON record (granted and waiting requests)."""
        return self._k("res", pool, "alloc")

    def waiting(self, pool: str) -> str:
        """ZSET of waiting requests: score -priority, member "<seq:016d>:<id>" (FIFO in a priority)."""
        return self._k("res", pool, "wait")

    def expiry(self, pool: str) -> str:
        """ZSET granted request id -> expiry (ms, server time); swept by reclaim."""
        return self._k("res", pool, "exp")

    def sequence(self, pool: str) -> str:
        """STRING arrival counter for FIFO order among equal priorities."""
        return self._k("res", pool, "seq")


@dataclass(frozen=True)
class ContainerKeys(_Section):
    """Container records and their state machine.

    ``{p}:ctr:<id>`` HASH record (status, runtime handle, node, config JSON, restarts...);
    a destroyed record expires after ``destroyed_ttl``. ``{p}:ctrs:live`` ZSET id -> created ms
    (every container not destroyed; bounded by max_containers, dangling members swept by the
    health pass). ``{p}:ctrs:stats`` HASH of counters. ``{p}:ctrs:release`` ZSET outbox of
    destroyed ids whose pool allocation is still to be released (emptied by destroy/health).
    """

    def container(self, container_id: str) -> str:
        return self._k("ctr", container_id)

    def container_base(self) -> str:
        """Prefix of every record key, for scripts that derive ``<base><id>``."""
        return self._k("ctr", "")

    def live(self) -> str:
        return self._k("ctrs", "live")

    def stats(self) -> str:
        return self._k("ctrs", "stats")

    def releases(self) -> str:
        """ZSET id -> ms: destroyed containers whose resources are still to be released."""
        return self._k("ctrs", "release")


@dataclass(frozen=True)
class BeatKeys(_Section):
    """Maintenance locks and the beat leader lock."""

    def lock(self, name: str) -> str:
        return self._k("lock", name)

    def stats_snapshots(self) -> str:
        """Capped list of periodic stats snapshots (newest first)."""
        return self._k("stats", "snapshots")


@dataclass(frozen=True)
class CeleryKeys:
    """Names Celery/kombu turn into Redis keys of their own (kombu adds no hash tag).

    Each worker consumes only its own queue, so the dispatcher alone decides who runs what;
    maintenance tasks from beat go to one shared queue every worker also consumes.
    """

    prefix: str

    def worker_queue(self, worker_id: str) -> str:
        """A worker's own Celery queue. It carries the namespace's hash tag, so the binding
        script can enqueue the Celery message in the same slot as the task it binds."""
        return self.worker_queue_base + worker_id

    @property
    def worker_queue_base(self) -> str:
        return "{" + self.prefix + "}.w."

    @property
    def maintenance_queue(self) -> str:
        return f"{self.prefix}.maintenance"

    @property
    def redbeat_prefix(self) -> str:
        """celery-redbeat keeps its schedule and leader lock under this prefix."""
        return "{" + self.prefix + "}:beat"

    @property
    def beat_lock(self) -> str:
        """The single-beat leader lock (redbeat names it ``<prefix>:lock``)."""
        return self.redbeat_prefix + ":lock"

    @property
    def events_channel(self) -> str:
        """Pub/sub channel: 'work' notifications that wake the worker-side dispatchers."""
        return "{" + self.prefix + "}:events:work"


class Keys:
    """Entry point: ``Keys("coord").scheduler.task("abc")`` -> ``{coord}:task:abc``."""

    def __init__(self, prefix: str = "coord"):
        self.prefix = validate_prefix(prefix)
        self.base = "{" + prefix + "}"
        self.scheduler = SchedulerKeys(self.base)
        self.registry = RegistryKeys(self.base)
        self.resources = ResourceKeys(self.base)
        self.containers = ContainerKeys(self.base)
        self.beat = BeatKeys(self.base)
        self.celery = CeleryKeys(prefix)

    @property
    def pattern(self) -> str:
        """A SCAN MATCH pattern for every key of the namespace (admin tools only, never hot paths)."""
        return self.base.replace("{", "\\{").replace("}", "\\}") + ":*"

    def __repr__(self) -> str:
        return f"Keys({self.prefix!r})"
