"""``coord demo``: the whole coordination layer on one machine, end to end.

``runner.DemoRunner`` orchestrates; ``cluster.py`` starts a round's workers, beat and agent
container; ``workload.py`` holds the mixed workload and folds its results; ``progress.py``
polls the tasks behind the progress bar; ``services.py`` registers two local HTTP services
with health checks; ``report.py`` prints the summary and writes it as JSON; ``tasks.py`` holds
the Celery tasks the workers import (this ``__init__`` imports nothing, so a worker importing
the tasks stays fast).
"""
