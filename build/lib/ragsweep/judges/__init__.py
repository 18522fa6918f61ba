"""Judges: score generated answers with an LLM (coverage, contradiction, correctness, ...)."""
