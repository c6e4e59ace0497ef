"""Celery settings, derived from the one settings model (coordination.config.Settings).

Loaded by ``app.config_from_object("celeryconfig")``. JSON is the only serializer; tasks are
acknowledged late with a prefetch of one, so a worker never holds more than it runs, and a
task whose child process dies is requeued by Celery as well as by our lease sweep.
"""

from __future__ import annotations

from typing import Any

from beat.schedule import build_beat_schedule
from coordination.config import Settings
from coordination.embedded import effective_url
from coordination.keys import Keys

_settings = Settings.load()
_keys = Keys(_settings.redis.key_prefix)

broker_url = _settings.celery.broker_url or effective_url(_settings)
# No result backend: results live in our task records (wait with TaskScheduler.wait_for_task).
result_backend = None
task_ignore_result = True
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
event_serializer = "json"
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
# Flower needs the worker's task events; 'task-sent' from producers would cost one more
# publish per dispatched task and adds nothing Flower needs.
worker_send_task_events = True
broker_connection_retry_on_startup = True
worker_concurrency = _settings.celery.worker_concurrency
# Our scheduler redelivers lost work through leases; Celery's visibility timeout must not
# also redeliver long-running tasks (kombu#337, celery#2599).
broker_transport_options: dict[str, Any] = {
    "visibility_timeout": 12 * 3600,
}
worker_hijack_root_logger = False
imports = tuple(_settings.celery.imports)

# beat: celery-redbeat holds the single-beat lock in Redis; a standby beat waits on it and
# takes over when the holder stops extending it (lock timeout a few seconds, not 25 minutes).
beat_scheduler = "redbeat.RedBeatScheduler"
redbeat_redis_url = broker_url
redbeat_key_prefix = _keys.celery.redbeat_prefix
redbeat_lock_timeout = _settings.celery.beat_lock_timeout
beat_max_loop_interval = _settings.celery.beat_max_loop_interval
beat_schedule = build_beat_schedule(_settings)
# Our workers consume their own queue (added by the bootstep) and this one, never Celery's
# shared "celery" queue: a plain apply_async on this app, and beat's tasks, land here.
task_default_queue = _keys.celery.maintenance_queue
task_routes = {"coord.maintenance.*": {"queue": _keys.celery.maintenance_queue}}
