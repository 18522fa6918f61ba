"""ragsweep's engine: contracts, stage cache, components, runner and reports."""

from harness.offline import configure_environment

configure_environment()
