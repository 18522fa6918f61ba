"""What is written and read back: the stage cache, the embedding store, run folders, provenance."""
