"""From options to a plan: run options, overrides, config files, the matrix of cells."""
