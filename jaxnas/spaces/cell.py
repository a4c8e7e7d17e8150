"""Generic edge-op cell search spaces: a DAG whose every edge carries one op from a list.

A cell is a DAG on nodes ``0 .. n-1`` (node 0 the input, node ``n-1`` the output, every edge
``i -> j`` with ``i < j``); each edge carries one of ``num_ops`` operations, and a node is the sum of
its incoming edges (NAS-Bench-201, Dong & Yang 2020; TransNAS-Bench-101 micro, Duan et al. 2021).
An architecture is a small pytree with ``ops: int32[..., E]``:

* **edge order** (canonical): by target node, then by source node. For the complete 4-node DAG this
  is NAS-Bench-201's string order ``0->1, 0->2, 1->2, 0->3, 1->3, 2->3``, and TransNAS-Bench-101's
  ``a_bc_def`` digit order;
* **id** (``to_id``): the base-``num_ops`` number of the ops, edge 0 most significant, in
  ``[0, num_ops**E)``; it is the row of a dense benchmark table;
* **fingerprint**: the id. Equal iff the op assignment is equal, i.e. this space does not reduce by
  isomorphism: two cells that compute the same function (an op applied to a dead node, commuted
  sums) keep distinct fingerprints, as they are distinct rows of a tabular benchmark, trained
  separately. A space that wants isomorphism classes maps ids to class representatives itself.

A space is fixed when it is made (:func:`cell_space`): a validity predicate (which cells exist at
all), a sampling filter (which cells the sampler draws, e.g. NASLib's rejection of cells whose input
or output has only ``none`` edges; mutation and neighbours ignore it, as in NASLib), the space's own
string form and its own encodings (NB201's NASLib-order one-hot). **Space options** are set the same
way, never per call: :meth:`CellSpace.with_options` (``jaxnas.spaces.get_space(name, **options)``
for a registered space) returns the space with, e.g., ``naslib_valid=False`` (the sampler ignores
the filter). NAS-Bench-201 (:mod:`jaxnas.spaces.nb201`), TransNAS-Bench-101 micro
(:mod:`jaxnas.spaces.transnas_micro`) and user cells are all instances of this one class.

Every function is pure; the array ones are jittable and accept any leading batch shape (``mutate``
takes one architecture: ``vmap`` it), the string and ``check`` ones run on the host.

>>> import networkx as nx
>>> space = cell_space("my_cell", nx.DiGraph([(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]),
...                    ("none", "skip_connect", "conv3x3")).as_search_space()
>>> arch = space.sample(jax.random.key(0))          # Arch with ops: int32[5]
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng
from jaxnas.spaces.base import SearchSpace

# Spaces with at most this many op assignments keep host tables of their allowed ids (sampling is
# then one gather); larger ones with a predicate sample by rejection under ``lax.while_loop``.
_TABLE_LIMIT = 1 << 20
_MAX_IDS = (1 << 31) - 1  # ids and fingerprints are int32


class CellArch:
  """Methods shared by every cell architecture class (each space has its own class, so an
  architecture of one space is never silently read as one of another)."""

  ops: jax.Array  # [..., E] int32

  @property
  def shape(self) -> tuple[int, ...]:
    """The batch shape."""
    return tuple(self.ops.shape[:-1])

  def __getitem__(self, idx):
    return type(self)(ops=self.ops[idx])


def make_arch_type(class_name: str) -> type:
  """A fresh ``flax.struct.dataclass`` architecture class with one field ``ops: int32[..., E]``.

  Registered spaces define their class statically in their own module (importable, picklable);
  this is for user-defined cells.
  """
  cls = type(class_name, (CellArch,), {
      "__annotations__": {"ops": "jax.Array"},
      "__module__": __name__,
      "__doc__": f"A {class_name} cell: the op index of each edge (``ops: int32[..., E]``).",
  })
  return flax.struct.dataclass(cls)


def canonical_edges(dag) -> tuple[int, tuple[tuple[int, int], ...]]:
  """Checks a cell DAG and returns ``(num_nodes, edges)`` with edges by target, then source.

  Args:
    dag: a ``networkx.DiGraph`` (anything with ``.nodes`` and ``.edges``) on nodes ``0..n-1``, or
      an edge list ``[(i, j), ...]`` over nodes ``0..n-1``.

  Raises:
    ValueError: one line naming the problem: nodes not ``0..n-1``, an edge not ``i < j``, a
      repeated edge, a node without an incoming (or outgoing) edge, fewer than 2 nodes.
  """
  if hasattr(dag, "nodes") and hasattr(dag, "edges"):
    nodes = list(dag.nodes)
    edges = [tuple(e[:2]) for e in dag.edges]
  else:
    edges = [tuple(e) for e in dag]
    nodes = sorted({v for e in edges for v in e})
  if any(len(e) != 2 for e in edges):
    raise ValueError(f"cell edges must be (source, target) pairs, got {edges!r}")
  if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in nodes):
    raise ValueError(f"cell nodes must be the integers 0..n-1 (0 = input, n-1 = output), got {nodes!r}")
  n = len(nodes)
  if n < 2 or sorted(int(v) for v in nodes) != list(range(n)):
    raise ValueError(f"cell nodes must be the integers 0..n-1 with n >= 2 (0 = input, n-1 = "
                     f"output), got {sorted(nodes)!r}")
  edges = [(int(i), int(j)) for i, j in edges]
  bad = [e for e in edges if not 0 <= e[0] < e[1] < n]
  if bad:
    raise ValueError(f"cell edge {bad[0]} must go from a lower to a higher node (i < j, nodes "
                     f"numbered in topological order 0..{n - 1})")
  if len(set(edges)) != len(edges):
    raise ValueError(f"cell has a repeated edge: {edges!r}")
  targets, sources = {j for _, j in edges}, {i for i, _ in edges}
  for v in range(1, n):
    if v not in targets:
      raise ValueError(f"cell node {v} has no incoming edge (every node but the input 0 needs one)")
  for v in range(n - 1):
    if v not in sources:
      raise ValueError(f"cell node {v} has no outgoing edge (every node but the output {n - 1} needs one)")
  return n, tuple(sorted(edges, key=lambda e: (e[1], e[0])))


@dataclasses.dataclass(frozen=True)
class CellSpace:
  """A frozen, hashable edge-op cell space; make one with :func:`cell_space`.

  Attributes:
    name: the space's name (error messages, registry).
    num_nodes: nodes of the DAG (0 input, ``num_nodes - 1`` output).
    edges: ``((source, target), ...)`` in canonical order (target, then source).
    ops: op names; op index ``k`` is ``ops[k]``.
    arch_type: the architecture class (a :class:`CellArch` flax dataclass with ``ops``).
    valid_fn: None, or ``(ops: int32[E]) -> bool[]`` (jittable): the cells that exist. Applied on
      top of the range check.
    sample_filter: None, or ``(ops: int32[E]) -> bool[]`` (jittable): the cells ``sample`` draws
      (uniformly among the valid cells that pass it). Mutation and neighbours ignore it.
    format_string / parse_string: None for the generic string form (see :meth:`to_string`), or
      ``(ops: np.int32[E]) -> str`` and ``(s: str) -> Sequence[int]`` (raising a one-line
      ValueError) for a space's own string form.
    encoders: the space's own encodings, ``((kind, dim, fn), ...)`` with ``fn(ops: int32[..., E])
      -> f32[..., dim]`` jittable; listed first in :attr:`encoding_dims`, and a kind named like a
      generic encoding replaces it.
    from_naslib: None, or the host-side ``(op_indices) -> Arch`` from NASLib's form of the space's
      cells (carried into the :class:`SearchSpace` record).
    filter_samples: the space option ``naslib_valid``: whether :meth:`sample` applies
      ``sample_filter`` (ignored when there is none). Set it with :meth:`with_options`.
  """

  name: str
  num_nodes: int
  edges: tuple[tuple[int, int], ...]
  ops: tuple[str, ...]
  arch_type: type
  valid_fn: Callable[[jax.Array], jax.Array] | None = None
  sample_filter: Callable[[jax.Array], jax.Array] | None = None
  format_string: Callable[[np.ndarray], str] | None = None
  parse_string: Callable[[str], Sequence[int]] | None = None
  encoders: tuple[tuple[str, int, Callable[[jax.Array], jax.Array]], ...] = ()
  from_naslib: Callable[..., Any] | None = None
  filter_samples: bool = True
  known_num_archs: int | None = None

  # ------------------------------------------------------------------------- options

  @property
  def options(self) -> dict[str, Any]:
    """The space options this space was made with (see :meth:`with_options`)."""
    return {"naslib_valid": self.filter_samples}

  def with_options(self, **options) -> "CellSpace":
    """This space with other space options (fixed from then on, never passed per call).

    Args:
      naslib_valid: True (the default): ``sample`` draws only cells that pass the space's
        ``sample_filter`` (NASLib's sampler; nothing changes for a space without a filter);
        False: ``sample`` draws uniformly from all valid cells. None keeps the current value.

    Raises:
      ValueError: an unknown option or a non-boolean value (one line naming the valid ones).
    """
    bad = [k for k in options if k not in SPACE_OPTIONS]
    if bad:
      raise ValueError(f"unknown option {bad[0]!r} for search space {self.name}; valid: "
                       f"{', '.join(SPACE_OPTIONS)}")
    v = options.get("naslib_valid")
    if v is None:
      return self
    if not isinstance(v, (bool, np.bool_)) and v not in (0, 1):
      raise ValueError(f"option naslib_valid of search space {self.name} must be True or False, "
                       f"got {v!r}")
    return self if bool(v) == self.filter_samples else dataclasses.replace(self, filter_samples=bool(v))

  # ------------------------------------------------------------------------- static sizes

  @property
  def num_edges(self) -> int:
    return len(self.edges)

  @property
  def num_ops(self) -> int:
    return len(self.ops)

  @property
  def num_ids(self) -> int:
    """Size of the id range, ``num_ops ** num_edges`` (all op assignments, valid or not)."""
    return self.num_ops**self.num_edges

  @property
  def num_neighbours(self) -> int:
    """K = E * (num_ops - 1): every single-edge change."""
    return self.num_edges * (self.num_ops - 1)

  @property
  def num_archs(self) -> int | None:
    """Number of valid cells (None when a predicate makes counting too costly)."""
    if self.valid_fn is None:
      return self.num_ids
    if self.known_num_archs is not None:  # declared: no count (and no JAX call) at import time
      return self.known_num_archs
    if self.num_ids > _TABLE_LIMIT:
      return None
    return int(len(_allowed_ids(self, False)))

  @property
  def encoding_dims(self) -> dict[str, int]:
    """Encoding name -> dimension (static): the space's own ``encoders`` first, then the generic
    ones they do not replace."""
    dims = {kind: int(dim) for kind, dim, _ in self.encoders}
    generic = {"adjacency_one_hot": self.num_edges * self.num_ops, "op_indices": self.num_edges,
               "path": sum(self.num_ops**length for length in range(1, self.num_nodes))}
    return {**dims, **{k: v for k, v in generic.items() if k not in dims}}

  def _place(self) -> np.ndarray:
    return self.num_ops ** np.arange(self.num_edges - 1, -1, -1)

  def _ops(self, arch) -> jax.Array:
    if hasattr(arch, "ops") and not isinstance(arch, self.arch_type):
      raise ValueError(_type_error(self, arch))
    return arch.ops if hasattr(arch, "ops") else jnp.asarray(arch)

  def _apply(self, fn, ops: jax.Array) -> jax.Array:
    """A per-cell predicate over any batch shape."""
    flat = ops.reshape(-1, self.num_edges)
    return jax.vmap(fn)(flat).astype(bool).reshape(ops.shape[:-1])

  # ------------------------------------------------------------------------- ids

  def to_id(self, arch) -> jax.Array:
    """Dense id ``int32[...]`` (base ``num_ops``, edge 0 most significant). Jittable."""
    ops = self._ops(arch).astype(jnp.int32)
    return jnp.sum(ops * jnp.asarray(self._place(), jnp.int32), axis=-1)

  def from_id(self, idx):
    """Inverse of :meth:`to_id`; ``idx`` may be batched. Jittable (no range check)."""
    idx = jnp.asarray(idx, jnp.int32)
    ops = (idx[..., None] // jnp.asarray(self._place(), jnp.int32)) % self.num_ops
    return self.arch_type(ops=ops.astype(jnp.int32))

  def fingerprint(self, arch) -> jax.Array:
    """``int32[...]``, equal iff same cell: the id (no isomorphism reduction; see module doc)."""
    return self.to_id(arch)

  def all_archs(self):
    """Every valid cell in id order: ``Arch`` with ``ops: int32[num_archs, E]``."""
    if self.valid_fn is None:
      return self.from_id(jnp.arange(self.num_ids))
    if self.num_ids > _TABLE_LIMIT:
      raise ValueError(f"search space {self.name} has {self.num_ids} op assignments and a validity "
                       f"predicate; enumerating more than {_TABLE_LIMIT} is not supported")
    return self.from_id(jnp.asarray(_allowed_ids(self, False)))

  def to_categorical(self, arch) -> jax.Array:
    """The cell as ``E`` categorical variables with ``num_ops`` choices: ``int32[..., E]``."""
    return self._ops(arch).astype(jnp.int32)

  def from_categorical(self, x):
    """Inverse of :meth:`to_categorical`."""
    return self.arch_type(ops=jnp.asarray(x, jnp.int32))

  # ------------------------------------------------------------------------- validity

  def is_valid(self, arch) -> jax.Array:
    """``bool[...]``: right length, integer ops in ``[0, num_ops)`` (raw values, no modulo) and,
    where set, ``valid_fn``. Jittable; a wrong shape or dtype gives False, never an error."""
    ops = self._ops(arch)
    if ops.ndim == 0:
      return jnp.zeros((), bool)
    if ops.shape[-1] != self.num_edges or not jnp.issubdtype(ops.dtype, jnp.integer):
      return jnp.zeros(ops.shape[:-1], bool)
    ok = jnp.all((ops >= 0) & (ops < self.num_ops), axis=-1)
    if self.valid_fn is not None:
      ok = ok & self._apply(self.valid_fn, jnp.clip(ops, 0, self.num_ops - 1).astype(jnp.int32))
    return ok

  def check(self, arch) -> np.ndarray:
    """Host-side validation: returns the ops as ``np.int32[..., E]`` or raises a one-line
    ValueError naming what is valid."""
    if hasattr(arch, "ops") and not isinstance(arch, self.arch_type):
      raise ValueError(_type_error(self, arch))
    arr = np.asarray(arch.ops if hasattr(arch, "ops") else arch)
    e = self.num_edges
    if arr.ndim == 0 or arr.shape[-1] != e:
      raise ValueError(f"{self.name} architecture needs {e} op indices (one per edge "
                       f"{_edge_names(self)}), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
      raise ValueError(f"{self.name} op indices must be integers, got dtype {arr.dtype}")
    bad = arr[(arr < 0) | (arr >= self.num_ops)]
    if bad.size:
      raise ValueError(f"{self.name} op index {int(bad.flat[0])} out of range: valid are "
                       f"0..{self.num_ops - 1} = {', '.join(self.ops)}")
    if self.valid_fn is not None:
      with jax.ensure_compile_time_eval():
        ok = np.asarray(self._apply(self.valid_fn, jnp.asarray(arr, jnp.int32)))
      if not ok.all():
        first = arr.reshape(-1, e)[int(np.argmin(ok.reshape(-1)))]
        raise ValueError(f"{self.name} cell {tuple(int(v) for v in first)} is rejected by the "
                         "space's validity predicate")
    return arr.astype(np.int32)

  # ------------------------------------------------------------------------- random operators

  def sample(self, key: jax.Array, shape: Sequence[int] = (), naslib_valid: bool | None = None):
    """Samples valid cells uniformly (among those passing ``sample_filter``, unless the space was
    made with ``naslib_valid=False``). Jittable.

    Without a validity predicate and without a filter this draws one hashed word per cell (the id);
    with them, one word per cell indexes the sorted table of allowed ids (NASLib's rejection
    sampler's distribution, in one gather), or, for spaces too large for a table, rejection under
    ``lax.while_loop``.

    Args:
      key: a ``jax.random`` key.
      shape: batch shape of the result.
      naslib_valid: deprecated, kept for older callers: overrides the space option for this call
        (None: the space's own, see :meth:`with_options`). Make the space with the option instead.

    Returns:
      ``Arch`` with ``ops: int32[*shape, E]``.
    """
    shape = tuple(shape)
    use_filter = self.filter_samples if naslib_valid is None else bool(naslib_valid)
    filtered = use_filter and self.sample_filter is not None
    if self.valid_fn is None and not filtered:
      # one hashed word per cell (not one per edge): the search loops' hot path
      return self.from_id(rng.randint(key, shape, self.num_ids))
    if self.num_ids <= _TABLE_LIMIT:
      ids = _allowed_ids(self, filtered)
      return self.from_id(jnp.asarray(ids)[rng.randint(key, shape, len(ids))])
    n = int(np.prod(shape, dtype=np.int64))
    keys = rng.split(key, max(n, 1))[:n]
    ids = jax.vmap(lambda k: self._reject(k, filtered))(keys)
    return self.from_id(ids.reshape(shape))

  def _reject(self, key, filtered: bool) -> jax.Array:
    """One allowed id by rejection sampling (spaces too large for an id table)."""
    def allowed(i):
      ops = self.from_id(i).ops
      ok = self.is_valid(ops)
      if filtered:
        ok = ok & self._apply(self.sample_filter, ops)
      return ok

    draw = lambda t: rng.randint(rng.fold_in(key, t), (), self.num_ids)
    _, idx = jax.lax.while_loop(lambda c: ~allowed(c[1]), lambda c: (c[0] + 1, draw(c[0] + 1)),
                                (jnp.zeros((), jnp.int32), draw(0)))
    return idx

  def mutate(self, key: jax.Array, arch):
    """One uniformly chosen edge gets a different, uniformly chosen op (NASLib's ``mutate``).

    Without a validity predicate this is NB201's operator (edge = word 0 mod E, op shift = 1 + word
    1 mod (num_ops - 1)); with one, the child is drawn uniformly among the valid neighbours (the
    parent is returned if it has none). Jittable; one architecture (``vmap`` for a batch).
    """
    ops = self._ops(arch)
    if self.valid_fn is None:
      bits = rng.words(key, 2)
      edge = (bits[0] % self.num_edges).astype(jnp.int32)
      shift = (1 + bits[1] % (self.num_ops - 1)).astype(jnp.int32)  # never 0: the op changes
      return self.arch_type(ops=ops.at[..., edge].set((ops[..., edge] + shift) % self.num_ops))
    nbrs, mask = self.neighbours_masked(ops)
    prio = jnp.where(mask, (rng.words(key, self.num_neighbours) >> 1) + 1, 0)  # random order
    k = jnp.argmax(prio, axis=-1)
    child = jnp.take_along_axis(nbrs.ops, k[..., None, None], axis=-2)[..., 0, :]
    return self.arch_type(ops=jnp.where(jnp.any(mask, -1)[..., None], child, ops))

  def neighbour(self, arch, k):
    """The ``k``-th of :meth:`neighbours` (``k`` may be traced)."""
    ops = self._ops(arch)
    k = jnp.asarray(k, jnp.int32)
    edge, shift = k // (self.num_ops - 1), 1 + k % (self.num_ops - 1)
    hit = jnp.arange(self.num_edges) == edge
    return self.arch_type(ops=jnp.where(hit, (ops + shift) % self.num_ops, ops).astype(jnp.int32))

  def neighbours(self, arch):
    """The K = E * (num_ops - 1) cells one edge away: edge-major, then op shift 1..num_ops-1
    (NB201's order). Jittable; returns ``Arch`` with ``ops: int32[..., K, E]``."""
    ops = self._ops(arch)
    e, o = self.num_edges, self.num_ops
    edges = np.repeat(np.arange(e), o - 1)
    shifts = np.tile(np.arange(1, o), e)
    delta = jnp.asarray(np.eye(e, dtype=np.int32)[edges] * shifts[:, None])  # [K, E]
    return self.arch_type(ops=((ops[..., None, :] + delta) % o).astype(jnp.int32))

  def neighbours_masked(self, arch):
    """``(Arch[..., K], bool[..., K])``: :meth:`neighbours` and which of them are valid (all, for
    a space without a validity predicate)."""
    nbrs = self.neighbours(arch)
    if self.valid_fn is None:
      return nbrs, jnp.ones(nbrs.ops.shape[:-1], bool)
    return nbrs, self.is_valid(nbrs)

  # ------------------------------------------------------------------------- encodings

  def encode(self, arch, kind: str = "adjacency_one_hot") -> jax.Array:
    """Feature encodings for predictors. Jittable.

    Args:
      arch: ``Arch`` with ``ops: int32[..., E]``.
      kind: one of the space's own ``encoders``, or a generic one: ``adjacency_one_hot`` (E *
        num_ops: one-hot of each edge's op, canonical edge order);
        ``op_indices`` (E: the op indices as floats); ``path`` (sum over lengths l = 1..n-1 of
        num_ops**l: the BANANAS path encoding (White et al., AAAI 2021), one bit per input->output
        path labelled by its op sequence, laid out by path length as NASLib's NB201 encoding).

    Returns:
      ``f32[..., D]`` with ``D = encoding_dims[kind]``.
    """
    ops = self._ops(arch).astype(jnp.int32)
    for own, _, fn in self.encoders:
      if own == kind:
        return fn(ops)
    if kind == "adjacency_one_hot":
      return jax.nn.one_hot(ops, self.num_ops).reshape(*ops.shape[:-1], self.num_edges * self.num_ops)
    if kind == "op_indices":
      return ops.astype(jnp.float32)
    if kind == "path":
      offsets = np.cumsum([0] + [self.num_ops**l for l in range(1, self.num_nodes)])
      idx = []
      for path in _paths(self.num_nodes, self.edges):
        i = jnp.full(ops.shape[:-1], offsets[len(path) - 1], jnp.int32)
        for j, e in enumerate(path):
          i = i + ops[..., e] * self.num_ops**j
        idx.append(i)
      return jnp.max(jax.nn.one_hot(jnp.stack(idx, -1), self.encoding_dims["path"]), axis=-2)
    raise ValueError(f"unknown encoding {kind!r} for search space {self.name}; valid: "
                     f"{', '.join(self.encoding_dims)}")

  # ------------------------------------------------------------------------- strings (host)

  def to_string(self, arch) -> str | list:
    """The cell's string; a batch gives a (nested) list.

    The generic form lists each node's incoming edges as ``op~source`` between bars, nodes joined
    by ``+``: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` for the complete 4-node DAG (exactly
    NAS-Bench-201's string). A space made with ``format_string`` uses its own form instead.
    """
    ops = self.check(arch)
    if ops.ndim > 1:
      return [self.to_string(o) for o in ops]
    if self.format_string is not None:
      return self.format_string(ops)
    return self._generic_string([self.ops[int(o)] for o in ops])

  def _generic_string(self, names: Sequence[str]) -> str:
    groups = []
    for t in range(1, self.num_nodes):
      terms = [f"{names[k]}~{i}" for k, (i, j) in enumerate(self.edges) if j == t]
      groups.append("|" + "|".join(terms) + "|")
    return "+".join(groups)

  def from_string(self, s: str):
    """Parses :meth:`to_string`'s form; one-line ValueError naming the bad string or op."""
    ops = self.string_to_ops(s)
    return self.arch_type(ops=jnp.asarray(ops, jnp.int32))

  def string_to_ops(self, s: str) -> np.ndarray:
    """Host-side parse into ``np.int32[E]`` (checked: range and validity predicate)."""
    if not isinstance(s, str):
      raise ValueError(f"{self.name} architecture string expected, got {type(s).__name__} {s!r}")
    if self.parse_string is not None:
      return self.check(np.asarray(self.parse_string(s)))
    template = self._generic_string(["op"] * self.num_edges)
    groups = s.strip().split("+")
    ops = np.zeros(self.num_edges, np.int32)
    if len(groups) != self.num_nodes - 1:
      raise ValueError(f"not a {self.name} architecture string: {s!r} (expected {template})")
    for t, g in enumerate(groups, start=1):
      want = [i for i, j in self.edges if j == t]
      terms = g[1:-1].split("|") if len(g) >= 2 and g[0] == g[-1] == "|" else None
      if terms is None or len(terms) != len(want):
        raise ValueError(f"not a {self.name} architecture string: {s!r} (expected {template})")
      for src, term in zip(want, terms):
        name, sep, got = term.rpartition("~")
        if not sep or got != str(src):
          raise ValueError(f"not a {self.name} architecture string: {s!r} (expected {template})")
        if name not in self.ops:
          raise ValueError(f"unknown {self.name} op {name!r} in {s!r}; valid ops: {', '.join(self.ops)}")
        ops[self.edges.index((src, t))] = self.ops.index(name)
    return self.check(ops)

  # ------------------------------------------------------------------------- registry view

  def sample_ids(self) -> np.ndarray:
    """Sorted ``np.int32`` ids of the cells :meth:`sample` draws from (host-side, cached; spaces
    with at most 2**20 op assignments)."""
    if self.num_ids > _TABLE_LIMIT:
      raise ValueError(f"search space {self.name} has {self.num_ids} op assignments; listing more "
                       f"than {_TABLE_LIMIT} is not supported")
    return _allowed_ids(self, self.filter_samples and self.sample_filter is not None)

  def as_search_space(self) -> SearchSpace:
    """The :class:`~jaxnas.spaces.SearchSpace` record of this cell (what optimizers take).

    Cached: equal cell spaces give the very same record, so jit caches keyed on it are shared.
    Its ``with_options`` makes the record of :meth:`with_options`.
    """
    return _search_space(self)


# Space options a cell space takes (``with_options``), with their defaults.
SPACE_OPTIONS: dict[str, Any] = {"naslib_valid": True}


@functools.lru_cache(maxsize=None)
def _search_space(space: CellSpace) -> SearchSpace:
  """The (cached) :class:`SearchSpace` record of ``space``."""
  dims = space.encoding_dims
  return SearchSpace(
      name=space.name, arch_type=space.arch_type, num_archs=space.num_archs,
      num_neighbours=space.num_neighbours, sample=space.sample, mutate=space.mutate,
      neighbours=space.neighbours, neighbour=space.neighbour, is_valid=space.is_valid,
      encode=space.encode, to_id=space.to_id, from_id=space.from_id, to_string=space.to_string,
      from_string=space.from_string, encodings=tuple(dims), fingerprint=space.fingerprint,
      neighbours_masked=space.neighbours_masked, encoding_dims=tuple(dims.items()),
      categorical=(space.num_ops,) * space.num_edges, to_categorical=space.to_categorical,
      from_categorical=space.from_categorical, edges=space.edges, ops=space.ops,
      all_archs=space.all_archs, check=space.check, from_naslib=space.from_naslib,
      options=tuple(space.options.items()),
      with_options=functools.partial(_record_with_options, space))


def _record_with_options(space: CellSpace, **options) -> SearchSpace:
  return _search_space(space.with_options(**options))


def cell_space(name: str, dag, ops: Sequence[str], *,
               valid_fn: Callable[[jax.Array], jax.Array] | None = None,
               sample_filter: Callable[[jax.Array], jax.Array] | None = None,
               arch_type: type | None = None,
               format_string: Callable[[np.ndarray], str] | None = None,
               parse_string: Callable[[str], Sequence[int]] | None = None,
               encoders: Sequence[tuple[str, int, Callable[[jax.Array], jax.Array]]] = (),
               from_naslib: Callable[..., Any] | None = None,
               naslib_valid: bool = True,
               num_archs: int | None = None) -> CellSpace:
  """Makes an edge-op cell space from a DAG and an op list.

  Args:
    name: the space's name.
    dag: a ``networkx.DiGraph`` or an edge list over nodes ``0..n-1`` (0 = input, n-1 = output,
      edges ``i -> j`` with ``i < j``); see :func:`canonical_edges`.
    ops: the op names (at least 2, distinct); op index ``k`` is ``ops[k]``.
    valid_fn: optional jittable ``(ops: int32[E]) -> bool[]`` on canonical-order ops: which cells
      exist (``is_valid``, the sampler and the neighbour mask respect it).
    sample_filter: optional jittable ``(ops: int32[E]) -> bool[]``: which cells ``sample`` draws.
    arch_type: the architecture class (a ``flax.struct.dataclass`` subclass of :class:`CellArch`
      with field ``ops``); default: a fresh class named after the space.
    format_string, parse_string: the space's own string form (default: the generic form).
    encoders: the space's own encodings ``((kind, dim, fn), ...)`` (see :class:`CellSpace`).
    from_naslib: NASLib's form of a cell -> ``Arch`` (host-side), where NASLib has the space.
    naslib_valid: the space option (see :meth:`CellSpace.with_options`): ``sample`` applies
      ``sample_filter``.
    num_archs: the number of cells ``valid_fn`` accepts, where the space knows it (a test should
      check it): then making the record counts nothing, so a space made at import time never
      calls JAX (``jax.distributed.initialize`` must run before the first JAX computation).

  Returns:
    A :class:`CellSpace`; ``.as_search_space()`` gives the record optimizers take.

  Raises:
    ValueError: a bad DAG or op list (one line), or more than 2**31 - 1 op assignments (ids are
      int32).
  """
  num_nodes, edges = canonical_edges(dag)
  ops = tuple(ops)
  if len(ops) < 2 or len(set(ops)) != len(ops) or not all(isinstance(o, str) and o for o in ops):
    raise ValueError(f"a cell needs at least 2 distinct, non-empty op names, got {ops!r}")
  if len(ops) ** len(edges) > _MAX_IDS:
    raise ValueError(f"cell {name!r} has {len(ops)}**{len(edges)} op assignments, more than int32 "
                     "ids and fingerprints can hold (2**31 - 1)")
  if arch_type is None:
    arch_type = make_arch_type("".join(p.capitalize() for p in str(name).split("_")) + "Arch")
  elif not issubclass(arch_type, CellArch):
    raise ValueError(f"arch_type must be a flax.struct.dataclass subclass of CellArch, got {arch_type!r}")
  encoders = tuple((str(k), int(d), fn) for k, d, fn in encoders)
  return CellSpace(name=name, num_nodes=num_nodes, edges=edges, ops=ops, arch_type=arch_type,
                   valid_fn=valid_fn, sample_filter=sample_filter, format_string=format_string,
                   parse_string=parse_string, encoders=encoders,
                   from_naslib=from_naslib,
                   known_num_archs=num_archs).with_options(naslib_valid=naslib_valid)


# ----------------------------------------------------------------------------- host helpers


@functools.lru_cache(maxsize=None)
def _allowed_ids(space: CellSpace, filtered: bool) -> np.ndarray:
  """Sorted ids of the valid cells (that also pass ``sample_filter`` if ``filtered``).

  Evaluated eagerly even while a caller is being traced (the result is a compile-time constant).
  """
  ids = np.arange(space.num_ids, dtype=np.int64)
  ops = ((ids[:, None] // space._place()) % space.num_ops).astype(np.int32)  # pylint: disable=protected-access
  with jax.ensure_compile_time_eval():
    ok = np.ones(len(ids), bool)
    if space.valid_fn is not None:
      ok &= np.asarray(space._apply(space.valid_fn, jnp.asarray(ops)))  # pylint: disable=protected-access
    if filtered and space.sample_filter is not None:
      ok &= np.asarray(space._apply(space.sample_filter, jnp.asarray(ops)))  # pylint: disable=protected-access
  out = ids[ok].astype(np.int32)
  if out.size == 0:
    raise ValueError(f"search space {space.name} has no cell that is valid"
                     + (" and passes its sample filter" if filtered else ""))
  return out


@functools.lru_cache(maxsize=None)
def _paths(num_nodes: int, edges: tuple[tuple[int, int], ...]) -> tuple[tuple[int, ...], ...]:
  """Every input->output path as a tuple of edge indices (canonical order), sorted."""
  out: list[tuple[int, ...]] = []

  def walk(node, path):
    if node == num_nodes - 1:
      out.append(tuple(path))
      return
    for k, (i, j) in enumerate(edges):
      if i == node:
        walk(j, path + [k])

  walk(0, [])
  return tuple(sorted(out, key=lambda p: (len(p), p)))


def _edge_names(space: CellSpace) -> str:
  return ", ".join(f"{i}->{j}" for i, j in space.edges)


def _type_error(space: CellSpace, arch: Any) -> str:
  t = type(arch)
  return (f"a {t.__module__}.{t.__qualname__} is not an architecture of search space {space.name} "
          f"(expected {space.arch_type.__module__}.{space.arch_type.__qualname__} with ops: "
          f"int32[..., {space.num_edges}])")


__all__ = ["CellArch", "CellSpace", "SPACE_OPTIONS", "canonical_edges", "cell_space", "make_arch_type"]
