"""optimizers/blackbox."""
