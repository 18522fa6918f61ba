"""Scoring what another system produced: its rankings and answers, read from a file, replayed through the scoring
stages in place of chunking, retrieval and generation (``outputs.path=FILE``; docs/data.md#outputs)."""
