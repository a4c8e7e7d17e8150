"""The :class:`SearchSpace` record: a static, hashable bundle of one space's pure functions.

It lives apart from the registry (``jaxnas.spaces``) so that generic space builders such as
:mod:`jaxnas.spaces.cell` can return one without importing any particular space.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable


@dataclasses.dataclass(frozen=True)
class SearchSpace:
  """Static description of a search space (hashable: safe as a static jit argument).

  The first block of fields is what every optimizer used before spaces became generic; the fields
  after ``encodings`` were added for space-generic code and all have defaults, so a space written
  against the old record still constructs (generic code must then cope with ``None``).

  Attributes:
    name: registry name.
    arch_type: the architecture pytree class.
    num_archs: size of the space (None if not enumerable).
    num_neighbours: neighbourhood size K (static, for fixed buffers); an upper bound where the
      neighbourhood varies (see ``neighbours_masked``).
    sample: ``(key, shape=()) -> Arch[*shape]``, always valid, following the space's options
      (``options``; e.g. NASLib's sampling filter with ``naslib_valid=True``). Cell spaces still
      accept a deprecated per-call ``naslib_valid=`` that overrides the option.
    mutate: ``(key, arch) -> Arch`` (one arch; vmap for batches).
    neighbours: ``(arch) -> Arch[..., K]``.
    neighbour: ``(arch, k) -> Arch``, the k-th of ``neighbours`` (k may be traced).
    is_valid: ``(arch) -> bool[...]``; checks raw values (no modulo), so it can fail.
    encode: ``(arch, kind) -> f32[..., D]``.
    to_id / from_id: dense benchmark row <-> arch.
    to_string / from_string: host-side string conversions (one-line ValueError on bad input).
    encodings: the names ``encode`` accepts.
    fingerprint: ``(arch) -> int32[...]``, jittable; equal iff the same architecture up to the
      space's isomorphism (what deduplication compares). None: not provided.
    neighbours_masked: ``(arch) -> (Arch[..., K], bool[..., K])``: the neighbourhood in a fixed-size
      buffer and which of its K entries are real (valid) neighbours.
    encoding_dims: ``((kind, D), ...)``: the static dimension of each encoding (see
      :meth:`encoding_dim`).
    categorical: choices per categorical variable, e.g. ``(5,) * 6`` for NB201: the space seen as
      ``len(categorical)`` independent categoricals (TPE, one-hot models). ``()``: no such view.
    to_categorical / from_categorical: ``Arch[...] <-> int32[..., len(categorical)]``, jittable.
    edges: ``((source, target), ...)`` in the architecture's edge order (cell spaces).
    ops: op names, in op-index order (cell spaces).
    all_archs: ``() -> Arch[num_archs]`` in id order (enumerable spaces).
    check: host-side ``(arch) -> None`` raising a one-line ValueError naming what is valid (an
      architecture of another space, wrong shape, op index out of range).
    from_naslib: host-side ``(op_indices) -> Arch`` from NASLib's form of the space's
      architectures (a tuple of op indices in NASLib's op and edge order), where NASLib has the
      space; None otherwise. :func:`jaxnas.spaces.arch_from_string` reads it from text.
    options: ``((name, value), ...)``: the space options this record was made with (fixed: a
      function never takes them per call).
    with_options: ``(**options) -> SearchSpace``: the same space with other options (a one-line
      ValueError naming the valid ones for an unknown option); None: the space takes no options.
      :func:`jaxnas.spaces.get_space` calls it for ``get_space(name, **options)``.
  """

  name: str
  arch_type: type
  num_archs: int | None
  num_neighbours: int
  sample: Callable[..., Any]
  mutate: Callable[..., Any]
  neighbours: Callable[..., Any]
  neighbour: Callable[..., Any]
  is_valid: Callable[..., Any]
  encode: Callable[..., Any]
  to_id: Callable[..., Any]
  from_id: Callable[..., Any]
  to_string: Callable[..., Any]
  from_string: Callable[..., Any]
  encodings: tuple[str, ...] = ()
  # --- space-generic interface (defaults keep older constructions working)
  fingerprint: Callable[..., Any] | None = None
  neighbours_masked: Callable[..., Any] | None = None
  encoding_dims: tuple[tuple[str, int], ...] = ()
  categorical: tuple[int, ...] = ()
  to_categorical: Callable[..., Any] | None = None
  from_categorical: Callable[..., Any] | None = None
  edges: tuple[tuple[int, int], ...] = ()
  ops: tuple[str, ...] = ()
  all_archs: Callable[..., Any] | None = None
  check: Callable[..., Any] | None = None
  from_naslib: Callable[..., Any] | None = None
  options: tuple[tuple[str, Any], ...] = ()
  with_options: Callable[..., Any] | None = None

  @property
  def num_edges(self) -> int:
    """Number of edges of a cell space (0 for other spaces)."""
    return len(self.edges)

  @property
  def num_ops(self) -> int:
    """Number of op choices per edge of a cell space (0 for other spaces)."""
    return len(self.ops)

  def encoding_dim(self, kind: str) -> int:
    """Static dimension of encoding ``kind``; ValueError naming the valid encodings."""
    dims = dict(self.encoding_dims)
    if kind not in dims:
      raise ValueError(f"unknown encoding {kind!r} for search space {self.name}; valid: "
                       f"{', '.join(dims) or 'none declared'}")
    return dims[kind]
