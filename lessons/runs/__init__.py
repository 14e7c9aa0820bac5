"""Runs: created (`create`), queued fairly (`queue`), executed by a run worker (`execute`),
summarised (`summary`) and shown (`present`)."""
