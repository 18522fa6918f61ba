"""The command line: `ragsweep` and the entry points of its subcommands."""
