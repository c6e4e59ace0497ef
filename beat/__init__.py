"""celery beat: the maintenance schedule (from the settings) and its idempotent tasks."""
