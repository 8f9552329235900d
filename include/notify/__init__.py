"""Email from the pipelines: the task-failure notifier and the run-summary email."""
