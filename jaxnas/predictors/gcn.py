"""A graph convolutional network predictor and the cell graph encoding it reads.

Any edge-op cell space (``space.edges``, ``space.ops``: NB201, TransNAS-Bench-101 micro, a user's
cell) is turned into the usual "ops as nodes" graph (Wen et al.; NASLib's GCN for NB201): the
input, one node per edge-op, and the output; op node ``(i -> j)`` receives from every op node
ending at ``i`` (or from the input when ``i`` is the cell's input node) and sends to every op node
starting at ``j`` (or to the output when ``j`` is the cell's output node). Node features are
one-hot over ``(input, output, *space.ops)``. Since every predictor takes a flat feature matrix,
the graph is flattened to ``[A (V*V), H (V*F)]`` features per cell (:func:`graph_encoding`); for
NB201 and TransNAS micro ``V = 8``, ``F = 7``: 120 features.

References:
  Wen et al., "Neural Predictor for Neural Architecture Search", ECCV 2020.
  Shi et al., "Bridging the Gap between Sample-based and One-shot NAS by Bayesian Optimization
  with Weight Sharing" (BONAS), NeurIPS 2020.
  Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional Networks", ICLR 2017.
"""

from __future__ import annotations

import functools

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.predictors import _base, _nn

# The defaults of :func:`gcn` (kept for existing callers): a cell with 6 edges and 5 ops, such as
# NB201. Other spaces build it with ``gcn(**gcn_kwargs(space))`` (TransNAS micro: 4 ops, 112).
NB201_NUM_NODES = 8
NB201_NODE_FEATURES = 7  # input, output, then one per op (5)
NB201_GRAPH_DIM = NB201_NUM_NODES * NB201_NUM_NODES + NB201_NUM_NODES * NB201_NODE_FEATURES  # 120


def _check_cell_space(space) -> None:
  if not getattr(space, "edges", ()) or not getattr(space, "ops", ()):
    raise ValueError(f"the graph encoding needs an edge-op cell space (with edges and ops); "
                     f"search space {getattr(space, 'name', space)!r} has none")


def graph_dims(space) -> tuple[int, int]:
  """``(V, F)`` of ``space``'s op graph: ``V = E + 2`` nodes, ``F = len(ops) + 2`` labels. A
  space that declares its own ``graph`` encoding (a node-op DAG such as NAS-Bench-101: ``V*V``
  adjacency then ``V*F`` one-hots with ``F = len(space.ops)``) has the ``V`` that solves
  ``V*V + V*F = D``."""
  _check_cell_space(space)
  own = dict(getattr(space, "encoding_dims", ())).get("graph")
  if own is not None:
    f = len(space.ops)
    v = int(round((-f + (f * f + 4 * own) ** 0.5) / 2))
    if v * v + v * f != own:
      raise ValueError(f"search space {space.name}'s graph encoding ({own}) is not V*V + V*{f}")
    return v, f
  return len(space.edges) + 2, len(space.ops) + 2


def graph_size(space) -> int:
  """Length of :func:`graph_encoding` for ``space``: ``V*V + V*F``."""
  v, f = graph_dims(space)
  return v * v + v * f


@functools.lru_cache(maxsize=None)
def _op_graph(edges: tuple[tuple[int, int], ...]) -> np.ndarray:
  """The fixed op-on-node adjacency of a cell with ``edges`` (``a[u, v] = 1`` for ``u -> v``)."""
  num_nodes = len(edges) + 2
  a = np.zeros((num_nodes, num_nodes), np.float32)
  first = min(i for i, _ in edges)
  last = max(j for _, j in edges)
  out = num_nodes - 1
  for k, (i, j) in enumerate(edges):
    node = 1 + k
    if i == first:
      a[0, node] = 1
    for k2, (_, j2) in enumerate(edges):
      if j2 == i:
        a[1 + k2, node] = 1
    if j == last:
      a[node, out] = 1
  a.setflags(write=False)
  return a


def graph_encoding(space, arch) -> jax.Array:
  """Cell -> flat graph ``f32[..., V*V + V*F]`` (adjacency, then node one-hots). Jittable.

  ``none`` edges stay nodes with their own label (a zero op): the graph topology is then the same
  for every cell and the labels carry the architecture, as in NASLib's NB201 GCN encoding.

  Args:
    space: an edge-op cell space (``edges`` and ``ops``).
    arch: an architecture (batch) of ``space`` (``ops: int32[..., E]``), or the op indices.
  """
  num_nodes, num_feats = graph_dims(space)
  if "graph" in dict(getattr(space, "encoding_dims", ())):  # the space's own node-op graph
    return space.encode(arch, "graph")
  ops = jnp.asarray(getattr(arch, "ops", arch))
  batch = ops.shape[:-1]
  labels = jnp.concatenate([
      jnp.zeros(batch + (1,), jnp.int32),  # input
      ops.astype(jnp.int32) + 2,
      jnp.ones(batch + (1,), jnp.int32),  # output
  ], -1)
  feats = jax.nn.one_hot(labels, num_feats).reshape(*batch, -1)
  adj = jnp.broadcast_to(jnp.asarray(_op_graph(tuple(space.edges))).reshape(-1),
                         batch + (num_nodes ** 2,))
  return jnp.concatenate([adj, feats], -1)


def nb201_graph_encoding(arch) -> jax.Array:
  """Deprecated alias: :func:`graph_encoding` on the registered ``nasbench201`` space."""
  from jaxnas import spaces  # pylint: disable=import-outside-toplevel
  return graph_encoding(spaces.get_space("nasbench201"), arch)


def gcn_kwargs(space) -> dict:
  """``num_features`` and ``num_nodes`` of :func:`gcn` for ``space``'s graph encoding."""
  v, _ = graph_dims(space)
  return {"num_features": graph_size(space), "num_nodes": v}


def split_graph(x: jax.Array, num_nodes: int):
  """Flat graph encoding ``f32[N, V*V + V*F]`` -> (adjacency ``[N, V, V]``, features ``[N, V, F]``)."""
  n = x.shape[0]
  adj = x[:, :num_nodes * num_nodes].reshape(n, num_nodes, num_nodes)
  feats = x[:, num_nodes * num_nodes:].reshape(n, num_nodes, -1)
  return adj, feats


def _normalised(adj):
  # Both directions plus self loops, symmetric normalisation (Kipf & Welling); Wen et al. use
  # forward and backward propagation, which the symmetrised graph approximates.
  a = adj + jnp.swapaxes(adj, -1, -2) + jnp.eye(adj.shape[-1])
  a = jnp.minimum(a, 1.0)
  d = jax.lax.rsqrt(jnp.sum(a, -1))
  return a * d[..., :, None] * d[..., None, :]


@flax.struct.dataclass
class GCNState:
  """A fitted GCN: weights and the target standardisation."""

  params: dict  # {"gcn": [...], "head": [...]}
  y_mean: jax.Array
  y_std: jax.Array
  num_valid: jax.Array


def gcn(num_features: int = NB201_GRAPH_DIM, *, num_nodes: int = NB201_NUM_NODES,
        hidden: int = 32, num_layers: int = 3, num_steps: int = 200, learning_rate: float = 3e-3,
        weight_decay: float = 1e-4) -> _base.Predictor:
  """GCN regressor on flattened graph encodings (see :func:`graph_encoding`).

  ``num_layers`` graph convolutions ``H <- relu(A_hat H W)``, mean pooling over nodes, a ReLU
  hidden layer and a linear head, trained by full-batch Adam on the MSE of standardised targets.

  Args:
    num_features: ``V*V + V*F`` (120 for NB201; :func:`graph_size`).
    num_nodes: ``V`` (static), 8 for NB201 (:func:`gcn_kwargs` gives both for a space).
    hidden: width of the graph convolutions. (An ensemble of 5 with width 32 and 200 steps gave
      NB201 tau 0.645 / 0.713 at 100 / 400 cells in 8 s per fit; width 64 and 300 steps gave
      0.634 / 0.725 in 40 s: XLA's CPU batched 8x8 matmuls are slow.)
    num_layers: number of graph convolutions.
    num_steps, learning_rate, weight_decay: the Adam fit, as for :func:`~jaxnas.predictors.mlp`.

  Returns:
    A :class:`~jaxnas.predictors.Predictor` with :class:`GCNState` (``std`` 0; ensemble it for
    uncertainty).

  References:
    Wen et al., ECCV 2020; Shi et al., NeurIPS 2020.
  """
  node_feats = (num_features - num_nodes * num_nodes) // num_nodes
  if node_feats < 1 or num_nodes * num_nodes + num_nodes * node_feats != num_features:
    raise ValueError(f"num_features {num_features} is not V*V + V*F for num_nodes V = {num_nodes}")

  def init_params(key):
    k1, k2 = jax.random.split(key)
    sizes = (node_feats,) + (hidden,) * num_layers
    return {"gcn": _nn.init_mlp(k1, sizes), "head": _nn.init_mlp(k2, (hidden, hidden, 1))}

  def apply(params, x):
    adj, h = split_graph(x, num_nodes)
    a = _normalised(adj)
    for layer in params["gcn"]:
      h = jax.nn.relu(a @ (h @ layer["w"] + layer["b"]))
    return _nn.apply_mlp(params["head"], jnp.mean(h, axis=1))[:, 0]

  def loss_fn(params, x, y, mask):
    return (_nn.masked_mean(jnp.square(apply(params, x) - y), mask)
            + weight_decay * (_nn.l2(params["gcn"]) + _nn.l2(params["head"])))

  def fit_fn(key, x, y, mask):
    mu, sd = _base.standardize(y, mask)
    ys = jnp.where(mask, (y - mu) / sd, 0.0)
    params, _ = _base.adam_scan(loss_fn, init_params(key), num_steps, learning_rate, x, ys, mask)
    return GCNState(params=params, y_mean=mu, y_std=sd, num_valid=jnp.sum(mask).astype(jnp.int32))

  def init(key, buffer_size: int = 1):
    del buffer_size
    return GCNState(params=init_params(key), y_mean=jnp.zeros(()), y_std=jnp.ones(()),
                    num_valid=jnp.zeros((), jnp.int32))

  def predict_fn(state, x):
    out = apply(state.params, x)
    mean = jnp.where(state.num_valid >= 1, out, 0.0) * state.y_std + state.y_mean
    return mean, jnp.zeros_like(mean)

  return _base.make_predictor(init, fit_fn, predict_fn, num_features, min_points=2)
