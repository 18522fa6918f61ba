"""Suite loaders: each turns a data source, in its published format, into Documents and Queries.

A loader registers itself with ``@TASKS.register("name")`` (ragsweep.registry) and has one YAML file
under configs/task/ per suite that uses it.
"""
