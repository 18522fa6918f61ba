"""Scoring: metric families (one module each here, registered by name; or any Metric subclass by import path)
turn each query's ranking, answer and verdicts into record columns, chosen by the ``scoring`` config group
(configs/scoring/default.yaml); ragsweep.scoring.records builds the records and their aggregate. Scoring is
cheap and recomputed on every run, so it is never cached."""
