"""Chat-completion backends shared by generators, judges, keyword and synthetic-QA generation.

A backend turns a batch of chat conversations into completions; everything that needs an LLM goes
through one, so the same model can answer, judge and annotate, served the way users serve models.
"""
