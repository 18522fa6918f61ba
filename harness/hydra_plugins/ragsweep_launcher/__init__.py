"""ragsweep's Hydra launcher plugins. Hydra instantiates a launcher only from the ``hydra_plugins`` namespace, so
this folder installs as ``hydra_plugins.ragsweep_launcher`` (pyproject.toml maps harness/hydra_plugins, which holds
nothing else, to that namespace); what the launchers do with Slurm's answers lives in ``ragsweep.cluster``."""
