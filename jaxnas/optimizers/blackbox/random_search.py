"""Random search (Li & Talwalkar 2019; NASLib ``RandomSearch``)."""

from __future__ import annotations

import flax.struct
import jax

from jaxnas.optimizers.blackbox.base import BlackBoxOptimizer
from jaxnas.spaces import SearchSpace


@flax.struct.dataclass
class RandomSearchState:
  count: jax.Array  # [] int32, queries told so far


def random_search(space: SearchSpace) -> BlackBoxOptimizer:
  """Uniform random sampling, one architecture per step.

  Args:
    space: the search space; ``space.sample`` draws what its options say (the registered cell
      spaces, made with ``naslib_valid=True`` by default, draw only cells NASLib's sampler accepts).

  Returns:
    A :class:`BlackBoxOptimizer`.
  """

  def init(key):
    del key
    return RandomSearchState(count=jax.numpy.zeros((), jax.numpy.int32))

  def ask(key, state):
    return space.sample(key, (1,)), state

  def tell(key, state, archs, fitness):
    del key, archs, fitness
    return state.replace(count=state.count + 1), {}

  return BlackBoxOptimizer(init=init, ask=ask, tell=tell, num_ask=1, name="rs")
