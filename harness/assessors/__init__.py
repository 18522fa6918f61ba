"""TREC-style assessors: graded relevance labels for retrieved chunks and nugget evaluation of answers."""
