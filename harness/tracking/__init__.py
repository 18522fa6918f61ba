"""Experiment trackers a run reports to after its folder is written (``tracking=mlflow``); the run folder stays
the record, a tracker is a copy in the tool a team already uses."""
