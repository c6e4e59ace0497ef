"""Celery settings, derived from the one settings model (coordination.config.Settings).

Loaded by ``app.config_from_object("celeryconfig")``. JSON is the only serializer; tasks are
acknowledged late with a prefetch of one, so a worker never holds more than it runs.
"""

from __future__ import annotations

from coordination.config import Settings
from coordination.embedded import effective_url

_settings = Settings.load()

broker_url = _settings.celery.broker_url or effective_url(_settings)
task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
event_serializer = "json"
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
worker_send_task_events = True
task_send_sent_event = True
broker_connection_retry_on_startup = True
worker_concurrency = _settings.celery.worker_concurrency
