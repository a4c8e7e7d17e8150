"""optimizers/oneshot."""
