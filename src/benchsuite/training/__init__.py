"""Training one model: seeding, device, optimisation, the loop, checkpoints, the data pipeline."""
