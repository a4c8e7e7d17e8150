"""jaxnas: neural architecture search in pure-functional JAX.

Building blocks (each a subpackage): ``spaces`` (search spaces, architectures as int pytrees),
``benchmarks`` (tabular benchmarks as array gathers), ``optimizers`` (black-box and one-shot step
functions), ``predictors`` (performance predictors and zero-cost proxies), ``nn`` (Flax networks),
``data`` (image datasets as arrays), ``evaluate`` (metrics and evaluators) and ``loops`` (drivers
that run many seeds of a search as one compiled program).
"""

__version__ = "0.1.0"
