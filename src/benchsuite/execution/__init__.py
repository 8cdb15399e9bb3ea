"""Running the cells of a plan: in this process, a worker pool, Slurm, data-parallel ranks."""
