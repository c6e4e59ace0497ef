"""The Celery worker side: the app, the bootstep that registers and heartbeats, the dispatcher
that hands bound tasks to workers, and the task base class that reports to the scheduler."""
