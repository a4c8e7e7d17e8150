"""predictors/zero_cost."""
