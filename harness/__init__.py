"""ragsweep: a RAG evaluation harness. Importing it (or ragsweep.metrics / ragsweep.tasks) changes nothing in the
process; the offline-by-default policy (ragsweep.offline) is applied by the entry points that run models."""
