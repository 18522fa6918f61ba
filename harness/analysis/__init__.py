"""Comparing runs: the leaderboard (Markdown, HTML, CSV), the regression gate, the chunking study, pairwise judging."""
