"""Performance benchmarks run by ``python -m jaxnas.bench NAME`` (one module per suite)."""
