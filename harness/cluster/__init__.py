"""Running sweeps on a cluster scheduler: the one-node Slurm the cluster tests run on (local_slurm), and what a
job learns from the scheduler it runs under (scheduler)."""
