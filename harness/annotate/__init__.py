"""Writing gold with an LLM: CoFE-RAG keywords and synthetic span-referenced questions."""
