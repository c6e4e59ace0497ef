"""The Celery app. Write ordinary tasks on it and run them through the scheduler:

    from workers.app import app

    @app.task(name="myproject.resize")
    def resize(path: str) -> str: ...

Workers import the modules listed in ``celery.imports`` (or ``coord worker --include``).
"""

from __future__ import annotations

import click
from celery import Celery
from celery.signals import task_unknown

from workers.bootstep import CoordinationStep

app = Celery("coordination", task_cls="workers.task:CoordTask", include=["beat.tasks"])
app.config_from_object("celeryconfig")
app.steps["consumer"].add(CoordinationStep)

worker_options = app.user_options["worker"]
worker_options.add(
    click.Option(["--coord-weight"], type=int, default=1, help="weight for weighted round robin")
)
worker_options.add(
    click.Option(["--coord-resources"], default=None, help="resources, e.g. cpu=2,memory=4Gi")
)
worker_options.add(
    click.Option(["--coord-task-types"], default=None, help="task types served (default: all)")
)
worker_options.add(
    click.Option(
        ["--coord-queues"], default=None, help="scheduler queues served (default: default)"
    )
)


@task_unknown.connect
def _fail_unknown_task(message: object = None, name: str | None = None, **_: object) -> None:
    """A task bound to this worker that it cannot run fails at once instead of looping."""
    from workers.context import context
    from workers.task import scheduled_of

    headers = getattr(message, "headers", None) or {}
    scheduled = scheduled_of(type("R", (), {"headers": headers})())
    if scheduled is not None:
        context().scheduler.fail_task(
            scheduled.task_id,
            f"task {name!r} is not registered on this worker",
            attempt=scheduled.attempt,
            retry=False,
        )
