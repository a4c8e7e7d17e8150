"""NAS-Bench-Graph (Qin et al., NeurIPS 2022 Datasets and Benchmarks): 4 GNN computing nodes with one
input each and one op each, as a fixed-shape architecture ``(links: int32[4], ops: int32[4])``.

Conventions (``../shared/SPACES.md`` section 7):

* node ``i`` (1-based) takes its single input from node ``links[i-1]`` in ``0..i-1`` (0 = the
  pre-processed input): ``1 x 2 x 3 x 4 = 24`` link vectors; every node without successors feeds the
  output; ``ops[i]`` indexes :data:`OPS` ``(gat, gcn, gin, cheb, sage, arma, graph, fc, skip)``.
  All-``skip`` is not an architecture (``is_valid`` False).
* **canonical form / key**: the benchmark stores one entry per isomorphism class, on 9 link
  patterns (:data:`PATTERNS`); its key is ``pattern * 10**4 + o0 * 1000 + o1 * 100 + o2 * 10 + o3``.
  :func:`canonical_key` maps any ``(links, ops)`` there in three steps, re-implemented from the
  description: *regularize* (an isomorphic re-labelling of the 15 non-pattern link vectors onto a
  pattern), *move skips* (a skip node is moved to the front and its successors re-attached to its
  input, then two leftover link shapes are re-labelled), *sort equal parts* (the ops of
  interchangeable sibling nodes sorted; for ``[0,0,1,2]`` the two chains ordered). Checked
  (``tests/spaces/test_nb_graph.py``): all 24 x 9**4 - 24 inputs land on one of the 26,206 stored
  keys, every stored key is reached and is its own canonical form.
* **id** (``to_id``): the rank of the canonical key among the 26,206 sorted keys (the dense table
  row, ``26206`` rows); ``from_id`` gives the canonical form. **fingerprint**: the canonical key
  (int32), so two architectures have equal fingerprints iff they are the same benchmark entry.
* **sample**: uniform over the canonical architectures (ids), i.e. over distinct benchmark entries
  (upstream's ``random_arch`` draws one of 9 patterns and 4 ops, which over-weights isomorphism
  classes with many labellings and may draw all-skip). **neighbours**: 40 single changes of the
  architecture as given: the link vector replaced by each of the 8 other patterns (8), or one op
  replaced by each of the 8 others (4 x 8); the mask keeps the valid ones that are a different
  benchmark entry (a change that is isomorphic to the original is masked, so a search never
  spends a query on the entry it has). **mutate**: a uniform choice among the masked neighbours,
  drawn directly from a precomputed bit mask of each raw architecture's masked neighbours.
* **option** ``proteins`` (default False): the proteins table has only ops ``gcn, sage, arma, fc,
  skip`` (2,021 entries; upstream's runner lists ``cheb`` for ``sage``, the data says ``sage``).
  With ``proteins=True`` the space samples, mutates and validates within those ops, so a search on
  proteins never queries an absent (NaN) entry; without it, absent entries read NaN and are never
  best.
* **categorical view**: 5 variables of 9 choices, ``(pattern index, o0, o1, o2, o3)`` (a link
  vector that is not a pattern is canonicalised first). **encodings**: ``adjacency_one_hot`` (45:
  one-hot pattern + one-hot op per node, of the canonical form, so isomorphic inputs encode
  equally) and ``op_indices`` (5, the categorical view of the canonical form).
* **string**: ``"0012:gcn,gin,fc,cheb"`` (the 4 link digits, ``:``, the op names).
"""

from __future__ import annotations

import functools
import itertools
import re

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng
from jaxnas.spaces.base import SearchSpace

NAME = "nasbench_graph"
OPS: tuple[str, ...] = ("gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip")
PROTEINS_OPS: tuple[str, ...] = ("gcn", "sage", "arma", "fc", "skip")
NUM_NODES = 4
NUM_OPS = 9
SKIP = 8
NUM_ARCHS = 26_206
NUM_LINKS = 24  # 1 * 2 * 3 * 4 link vectors
NUM_NEIGHBOURS = (len(range(9)) - 1) + NUM_NODES * (NUM_OPS - 1)  # 8 + 32 = 40
PATTERNS: tuple[tuple[int, ...], ...] = (
    (0, 0, 0, 0), (0, 0, 0, 1), (0, 0, 1, 1), (0, 0, 1, 2), (0, 0, 1, 3),
    (0, 1, 1, 1), (0, 1, 1, 2), (0, 1, 2, 2), (0, 1, 2, 3))
# regularize: link vector -> (pattern, source position of each op)
_REGULARIZE = {
    (0, 0, 0, 2): ((0, 0, 0, 1), (1, 0, 2, 3)), (0, 0, 0, 3): ((0, 0, 0, 1), (2, 0, 1, 3)),
    (0, 0, 1, 0): ((0, 0, 0, 1), (0, 1, 3, 2)), (0, 0, 2, 0): ((0, 0, 0, 1), (1, 0, 3, 2)),
    (0, 0, 2, 1): ((0, 0, 1, 2), (1, 0, 2, 3)), (0, 0, 2, 2): ((0, 0, 1, 1), (1, 0, 2, 3)),
    (0, 0, 2, 3): ((0, 0, 1, 3), (1, 0, 2, 3)), (0, 1, 0, 0): ((0, 0, 0, 1), (0, 2, 3, 1)),
    (0, 1, 0, 1): ((0, 0, 1, 1), (0, 2, 1, 3)), (0, 1, 0, 2): ((0, 0, 1, 3), (0, 2, 1, 3)),
    (0, 1, 0, 3): ((0, 0, 1, 2), (0, 2, 1, 3)), (0, 1, 1, 0): ((0, 0, 1, 1), (0, 3, 1, 2)),
    (0, 1, 1, 3): ((0, 1, 1, 2), (0, 2, 1, 3)), (0, 1, 2, 0): ((0, 0, 1, 3), (0, 3, 1, 2)),
    (0, 1, 2, 1): ((0, 1, 1, 2), (0, 1, 3, 2)),
}
# sort equal parts: pattern -> positions of interchangeable sibling leaves ([0,0,1,2]: see below)
_EQUAL_PARTS = {(0, 0, 0, 0): (0, 1, 2, 3), (0, 0, 0, 1): (1, 2), (0, 0, 1, 1): (2, 3),
                (0, 1, 1, 1): (1, 2, 3), (0, 1, 2, 2): (2, 3)}
_STRING_RE = re.compile(r"^\s*([0-3])([0-3])([0-3])([0-3])\s*:\s*([a-z]+),([a-z]+),([a-z]+),([a-z]+)\s*$")


@flax.struct.dataclass
class Arch:
  """A NAS-Bench-Graph architecture: each node's input and op (any leading batch shape)."""

  links: jax.Array  # [..., 4] int32, node i+1 reads node links[i] (0 = input), links[i] <= i
  ops: jax.Array  # [..., 4] int32 indices into OPS

  def __getitem__(self, i):
    return Arch(links=self.links[i], ops=self.ops[i])

  @property
  def shape(self):
    return self.ops.shape[:-1]


# ----------------------------------------------------------------------------- canonicalisation
def _move_skips(links, skip):
  """Upstream's skip move on one link vector and skip mask: (new links, source positions)."""
  links, skip, pos = list(links), list(skip), list(range(NUM_NODES))
  for i in range(NUM_NODES):
    if not skip[i]:
      continue
    son = any(fa == i + 1 for fa in links)
    brother = any(j != i and fa == links[i] for j, fa in enumerate(links) if fa != i + 1)
    k, from_input = i, True  # the skip and all its ancestors are skips: it is the input itself
    while k > -1:
      if not skip[k]:
        from_input = False
        break
      k = links[k] - 1
    if son or not brother or from_input:
      new = list(links)
      for j, fa in enumerate(links):
        if fa == i + 1:
          new[j] = links[i] + 1
        elif fa <= i:
          new[j] += 1
      links = [0] + new[:i] + new[i + 1:]
      pos = [pos[i]] + pos[:i] + pos[i + 1:]
      skip = [skip[i]] + skip[:i] + skip[i + 1:]
  if links == [0, 1, 2, 1]:
    links, pos = [0, 1, 1, 2], [pos[0], pos[1], pos[3], pos[2]]
  elif links == [0, 1, 1, 3]:
    links, pos = [0, 1, 1, 2], [pos[0], pos[2], pos[1], pos[3]]
  return tuple(links), tuple(pos)


def all_link_vectors() -> np.ndarray:
  """``int32[24, 4]``: every link vector, in link-index order (``links[1]*12 + links[2]*4 +
  links[3]``)."""
  return np.array(list(itertools.product([0], [0, 1], [0, 1, 2], [0, 1, 2, 3])), np.int32)


@functools.lru_cache(maxsize=None)
def _tables() -> dict[str, np.ndarray]:
  """Host tables: ``raw_key int64[24 * 9**4]`` (the canonical key of every (link index, op code),
  -1 for all-skip), the sorted ``keys int32[26206]``, ``raw_id int32[24 * 9**4]`` (-1 for
  all-skip) and each key's canonical ``links`` / ``ops`` ``int32[26206, 4]``."""
  links = all_link_vectors()
  n_codes = NUM_OPS**NUM_NODES
  codes = np.arange(n_codes)
  ops_all = np.stack([(codes // NUM_OPS**(3 - i)) % NUM_OPS for i in range(NUM_NODES)], -1)
  skip_mask = (ops_all == SKIP)
  mask_id = skip_mask @ (1 << np.arange(NUM_NODES))  # [6561]
  raw_key = np.empty((NUM_LINKS, n_codes), np.int64)
  for li, lk in enumerate(map(tuple, links)):
    pattern, src = _REGULARIZE.get(lk, (lk, (0, 1, 2, 3)))
    ops = ops_all[:, list(src)]
    msk = skip_mask[:, list(src)] @ (1 << np.arange(NUM_NODES))
    out = np.empty_like(ops)
    pat_of = np.empty(n_codes, np.int64)
    for m in range(1 << NUM_NODES):
      sel = msk == m
      if not sel.any():
        continue
      p, pos = _move_skips(pattern, [(m >> b) & 1 for b in range(NUM_NODES)])
      o = ops[sel][:, list(pos)]
      if p in _EQUAL_PARTS:
        g = list(_EQUAL_PARTS[p])
        o[:, g] = np.sort(o[:, g], axis=1)
      elif p == (0, 0, 1, 2):  # two chains 1->3 and 2->4: order them by (o0, o2) vs (o1, o3)
        swap = (o[:, 0] > o[:, 1]) | ((o[:, 0] == o[:, 1]) & (o[:, 2] > o[:, 3]))
        o[swap] = o[swap][:, [1, 0, 3, 2]]
      out[sel] = o
      pat_of[sel] = PATTERNS.index(p)  # ValueError here would mean a non-pattern result
    raw_key[li] = pat_of * 10**4 + out @ np.array([1000, 100, 10, 1])
  raw_key[:, mask_id == (1 << NUM_NODES) - 1] = -1  # all-skip
  raw_key = raw_key.reshape(-1)
  keys = np.unique(raw_key[raw_key >= 0]).astype(np.int32)
  raw_id = np.where(raw_key >= 0, np.searchsorted(keys, np.maximum(raw_key, 0)), -1).astype(np.int32)
  key_links = np.array(PATTERNS, np.int32)[keys // 10**4]
  key_ops = np.stack([(keys // 10**(3 - i)) % 10 for i in range(NUM_NODES)], -1).astype(np.int32)
  proteins = np.isin(key_ops, [OPS.index(o) for o in PROTEINS_OPS]).all(-1)
  for v in (raw_key, keys, raw_id, key_links, key_ops):
    v.setflags(write=False)
  return {"raw_key": raw_key, "keys": keys, "raw_id": raw_id, "links": key_links, "ops": key_ops,
          "proteins_ids": np.flatnonzero(proteins).astype(np.int32)}


def canonical_keys() -> np.ndarray:
  """``int32[26206]``: the benchmark keys of all architectures, sorted (row ``i`` = id ``i``)."""
  return _tables()["keys"]


def raw_index(links, ops) -> jax.Array:
  """``int32[...]``: the (link index, op code) row of the raw tables, ``link_index * 9**4 +
  op_code`` (values clipped into range; validity is :func:`is_valid`'s business)."""
  links = jnp.asarray(links, jnp.int32)
  ops = jnp.clip(jnp.asarray(ops, jnp.int32), 0, NUM_OPS - 1)
  li = (jnp.clip(links[..., 1], 0, 1) * 12 + jnp.clip(links[..., 2], 0, 2) * 4
        + jnp.clip(links[..., 3], 0, 3))
  code = ((ops[..., 0] * NUM_OPS + ops[..., 1]) * NUM_OPS + ops[..., 2]) * NUM_OPS + ops[..., 3]
  return li * NUM_OPS**NUM_NODES + code


def canonical_key(links, ops) -> jax.Array:
  """The stored benchmark key of ``(links, ops)`` (int32[...]; -1 for all-skip). Jittable."""
  return jnp.asarray(_tables()["raw_key"].astype(np.int32))[raw_index(links, ops)]


def key_to_arch(key) -> Arch:
  """The canonical architecture of a benchmark key (host; one-line ValueError for a non-key)."""
  k = np.asarray(key, np.int64)
  keys = canonical_keys()
  i = np.searchsorted(keys, k)
  if np.any(i >= len(keys)) or np.any(keys[np.minimum(i, len(keys) - 1)] != k):
    raise ValueError(f"{key!r} is not a {NAME} benchmark key (pattern*10**4 + 4 op digits of a "
                     f"canonical architecture, e.g. 87072)")
  return from_id(jnp.asarray(i, jnp.int32))


# ----------------------------------------------------------------------------- space functions
def _allowed_ops(proteins: bool) -> tuple[int, ...]:
  return tuple(OPS.index(o) for o in PROTEINS_OPS) if proteins else tuple(range(NUM_OPS))


def to_id(arch: Arch) -> jax.Array:
  """Dense row (rank of the canonical key) of ``arch``; -1 for all-skip. Jittable."""
  # int16 (ids < 2**15): half the bytes for the gather RE makes at every query (the same values)
  return jnp.asarray(_raw_id16())[raw_index(arch.links, arch.ops)].astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def _raw_id16() -> np.ndarray:
  out = _tables()["raw_id"].astype(np.int16)
  out.setflags(write=False)
  return out


def from_id(i) -> Arch:
  """The canonical architecture of row ``i``. Jittable."""
  i = jnp.asarray(i, jnp.int32)
  t = _tables()
  return Arch(links=jnp.asarray(t["links"])[i], ops=jnp.asarray(t["ops"])[i])


def all_archs() -> Arch:
  """All 26,206 canonical architectures in id order."""
  return from_id(jnp.arange(NUM_ARCHS, dtype=jnp.int32))


def fingerprint(arch: Arch) -> jax.Array:
  """``int32[...]``: the canonical key (equal iff the same benchmark entry). Jittable."""
  return canonical_key(arch.links, arch.ops)


def canonicalize(arch: Arch) -> Arch:
  """The canonical (stored) form of ``arch``. Jittable (all-skip gives row -1's garbage: check
  validity first)."""
  return from_id(jnp.maximum(to_id(arch), 0))


def _is_valid(proteins: bool, arch) -> jax.Array:
  if not isinstance(arch, Arch):
    return jnp.zeros(jnp.shape(arch)[:-1], bool)
  links, ops = jnp.asarray(arch.links), jnp.asarray(arch.ops)
  if links.shape[-1:] != (NUM_NODES,) or ops.shape[-1:] != (NUM_NODES,):
    return jnp.zeros(jnp.broadcast_shapes(links.shape[:-1], ops.shape[:-1]), bool)
  ok_links = jnp.all((links >= 0) & (links <= jnp.arange(NUM_NODES)), -1)
  in_range = (ops >= 0) & (ops < NUM_OPS)
  if proteins:  # a 9-entry lookup, not isin: this runs on 40 neighbours per mutation
    allowed = jnp.asarray(np.isin(np.arange(NUM_OPS), _allowed_ops(True)))
    in_range = in_range & allowed[jnp.clip(ops, 0, NUM_OPS - 1)]
  ok_ops = jnp.all(in_range, -1)
  return ok_links & ok_ops & ~jnp.all(ops == SKIP, -1)


def _threefry2x32(k1, k2, x1, x2):
  """Threefry-2x32 (20 rounds), unrolled: the bits of ``jax.random``'s primitive, whose CPU
  lowering is a rolled 5-iteration while loop (a nested loop of small kernels per call)."""
  def rotl(v, d):
    return (v << jnp.uint32(d)) | (v >> jnp.uint32(32 - d))
  ks = (k1, k2, k1 ^ k2 ^ jnp.uint32(0x1BD11BDA))
  rot = ((13, 15, 26, 6), (17, 29, 16, 24))
  x1, x2 = x1 + ks[0], x2 + ks[1]
  for i in range(5):
    for r in rot[i % 2]:
      x1 = x1 + x2
      x2 = rotl(x2, r) ^ x1
    x1, x2 = x1 + ks[(i + 1) % 3], x2 + ks[(i + 2) % 3] + jnp.uint32(i + 1)
  return x1, x2


def _randint(key, shape, n: int) -> jax.Array:
  """``jax.random.randint(key, shape, 0, n)``, bit for bit, without the rolled loops (RE draws a
  random architecture at every step: the loops were ~half of NB-Graph's RE run on CPU). Only the
  default setting (threefry keys, ``jax_threefry_partitionable``, fewer than 2**32 draws) is
  re-implemented; anything else calls ``jax.random.randint``. Tested equal on many keys."""
  shape = tuple(shape)
  size = int(np.prod(shape, dtype=np.int64))
  if (str(jax.random.key_impl(key)) != "threefry2x32" or not jax.config.jax_threefry_partitionable
      or size >= 1 << 32 or not 0 < n < 1 << 31):
    return jax.random.randint(key, shape, 0, n)
  data = jax.random.key_data(key)
  # _split(key): counts (0, 0) and (0, 1) -> keys (b1[0], b2[0]), (b1[1], b2[1])
  zero = jnp.zeros((2,), jnp.uint32)
  s1, s2 = _threefry2x32(data[0], data[1], zero, jnp.arange(2, dtype=jnp.uint32))
  lo = jnp.arange(size, dtype=jnp.uint32).reshape(shape)  # iota_2x32_shape: (0, flat index)
  hi = jnp.zeros(shape, jnp.uint32)
  higher = functools.reduce(jnp.bitwise_xor, _threefry2x32(s1[0], s2[0], hi, lo))
  lower = functools.reduce(jnp.bitwise_xor, _threefry2x32(s1[1], s2[1], hi, lo))
  span = jnp.uint32(n)
  mult = jnp.uint32(((1 << 16) % n) ** 2 % (1 << 32) % n)  # in uint32, as jax computes it
  off = ((higher % span) * mult + lower % span) % span
  return off.astype(jnp.int32)


def _sample(proteins: bool, key, shape=()) -> Arch:
  ids = jnp.asarray(_tables()["proteins_ids"]) if proteins else None
  n = len(_tables()["proteins_ids"]) if proteins else NUM_ARCHS
  j = _randint(key, tuple(shape), n)
  return from_id(ids[j] if proteins else j)


def _pattern_index(links) -> jax.Array:
  """Index of ``links`` in PATTERNS, or -1."""
  pats = jnp.asarray(PATTERNS, jnp.int32)
  eq = jnp.all(jnp.asarray(links)[..., None, :] == pats, -1)
  return jnp.where(eq.any(-1), jnp.argmax(eq, -1), -1)


def _neighbours_masked(proteins: bool, arch: Arch):
  """(Arch[..., 40], bool[..., 40]); see the module doc."""
  links, ops = jnp.asarray(arch.links, jnp.int32), jnp.asarray(arch.ops, jnp.int32)
  pats = jnp.asarray(PATTERNS, jnp.int32)
  p = _pattern_index(links)
  other = jnp.arange(8)  # the 8 other patterns, in order, skipping p (a raw link: patterns 0..7)
  new_p = other + (other >= jnp.maximum(p, 0)[..., None]) * (p[..., None] >= 0)
  k_links = jnp.concatenate([pats[new_p], jnp.broadcast_to(
      links[..., None, :], links.shape[:-1] + (NUM_NODES * 8, NUM_NODES))], -2)
  pos = jnp.repeat(jnp.arange(NUM_NODES), 8)  # [32]
  step = jnp.tile(jnp.arange(1, NUM_OPS), NUM_NODES)  # [32]
  cur = jnp.take(ops, pos, axis=-1)  # [..., 32]
  changed = (cur + step) % NUM_OPS
  op_rows = jnp.where(jax.nn.one_hot(pos, NUM_NODES, dtype=bool),
                      changed[..., None], ops[..., None, :])  # [..., 32, 4]
  k_ops = jnp.concatenate([jnp.broadcast_to(ops[..., None, :], ops.shape[:-1] + (8, NUM_NODES)),
                           op_rows], -2)
  nbrs = Arch(links=k_links, ops=k_ops)
  mask = _is_valid(proteins, nbrs) & (fingerprint(nbrs) != fingerprint(arch)[..., None])
  return nbrs, mask


def _neighbours(proteins: bool, arch):
  return _neighbours_masked(proteins, arch)[0]


def _neighbour(proteins: bool, arch, k):
  nbrs = _neighbours(proteins, arch)
  return jax.tree_util.tree_map(lambda x: jnp.take(x, k, axis=-2), nbrs)


@functools.lru_cache(maxsize=None)
def _mutation_bits(proteins: bool) -> np.ndarray:
  """``uint8[24 * 9**4, 5]``: :func:`_neighbours_masked`'s mask of every raw ``(links, ops)`` (row
  :func:`raw_index`), as 5 bytes: byte 0 bit ``j`` = link neighbour ``j``, byte ``1 + i`` bit
  ``s - 1`` = node ``i``'s op shifted by ``s``. Host numpy (built on first use, ~0.8 MB); equal to
  the jnp mask (tested)."""
  t = _tables()
  raw_key = t["raw_key"]
  n_codes = NUM_OPS**NUM_NODES
  links = all_link_vectors()
  code = np.arange(n_codes)
  ops = np.stack([(code // NUM_OPS**(3 - i)) % NUM_OPS for i in range(NUM_NODES)], -1)  # [6561, 4]
  allowed = np.isin(np.arange(NUM_OPS), _allowed_ops(proteins))
  link_index = {tuple(lk): i for i, lk in enumerate(links.tolist())}
  bits = np.zeros((NUM_LINKS, n_codes, 5), np.uint8)
  for li, lk in enumerate(map(tuple, links.tolist())):
    fp = raw_key[li * n_codes + code]  # [6561]
    p = PATTERNS.index(lk) if lk in PATTERNS else -1
    new_p = [q for q in range(len(PATTERNS)) if q != p][:8]  # as _neighbours_masked: 8 others
    ok_parent = allowed[ops].all(-1)
    for j, q in enumerate(new_p):
      f = raw_key[link_index[PATTERNS[q]] * n_codes + code]
      bits[li, :, 0] |= ((ok_parent & (f >= 0) & (f != fp)).astype(np.uint8) << j)
    for i in range(NUM_NODES):
      others = np.delete(allowed[ops], i, axis=1).all(-1)
      for s in range(1, NUM_OPS):
        new_op = (ops[:, i] + s) % NUM_OPS
        f = raw_key[li * n_codes + code + (new_op - ops[:, i]) * NUM_OPS**(3 - i)]
        ok = others & allowed[new_op] & (f >= 0) & (f != fp)
        bits[li, :, 1 + i] |= ok.astype(np.uint8) << (s - 1)
  out = bits.reshape(NUM_LINKS * n_codes, 5)
  out.setflags(write=False)
  return out


def _mutate(proteins: bool, key, arch: Arch) -> Arch:
  """A uniform choice among the masked neighbours, drawn directly: the parent's 40-bit mask is
  read from :func:`_mutation_bits`, one random word picks the ``r``-th set bit (``r`` uniform in
  ``[0, count)``) and only that neighbour is built: the distribution of the old mask-and-sample
  operator (tested) without building and fingerprinting 40 neighbours per call (RE's hot path).
  A parent with no valid neighbour gives neighbour 0, as before."""
  links, ops = jnp.asarray(arch.links, jnp.int32), jnp.asarray(arch.ops, jnp.int32)
  row = raw_index(links, ops)
  m = jnp.asarray(_mutation_bits(proteins))[row].astype(jnp.int32)  # [5]
  cnt = jax.lax.population_count(m)
  csum = jnp.cumsum(cnt)
  r = (rng.words(key, 1)[0] % jnp.maximum(csum[-1], 1).astype(jnp.uint32)).astype(jnp.int32)
  grp = jnp.argmax(csum > r)
  j = jnp.asarray(_NTH_BIT)[m[grp], r - (csum[grp] - cnt[grp])]  # the within-th set bit
  # link change j: the j-th of the patterns other than the parent's (a 24 x 8 table by link index)
  new_links = jnp.where(grp == 0, jnp.asarray(_OTHER_LINKS)[row // NUM_OPS**NUM_NODES, j], links)
  new_ops = jnp.where(jnp.arange(NUM_NODES) == grp - 1, (ops + j + 1) % NUM_OPS, ops)
  return Arch(links=new_links, ops=new_ops)


# [256, 8]: the position of the r-th set bit of a byte (0 where there is none)
_NTH_BIT = np.zeros((256, 8), np.int32)
for _b in range(256):
  _set = [i for i in range(8) if (_b >> i) & 1]
  _NTH_BIT[_b, :len(_set)] = _set
# [24, 8, 4]: for each link vector (link index order), the 8 other patterns _neighbours_masked uses
_OTHER_LINKS = np.array([[PATTERNS[q] for q in range(len(PATTERNS)) if q != (
    PATTERNS.index(tuple(lk)) if tuple(lk) in PATTERNS else -1)][:8]
                         for lk in all_link_vectors().tolist()], np.int32)


def to_categorical(arch: Arch) -> jax.Array:
  """``int32[..., 5]``: (pattern index, o0..o3); a non-pattern link vector is canonicalised."""
  p = _pattern_index(arch.links)
  c = canonicalize(arch)
  raw = jnp.concatenate([p[..., None], jnp.asarray(arch.ops, jnp.int32)], -1)
  can = jnp.concatenate([_pattern_index(c.links)[..., None], c.ops], -1)
  return jnp.where((p >= 0)[..., None], raw, can).astype(jnp.int32)


def from_categorical(x) -> Arch:
  """Inverse of :func:`to_categorical` on pattern architectures."""
  x = jnp.asarray(x, jnp.int32)
  return Arch(links=jnp.asarray(PATTERNS, jnp.int32)[x[..., 0]], ops=x[..., 1:])


ENCODING_DIMS = {"adjacency_one_hot": len(PATTERNS) + NUM_NODES * NUM_OPS, "op_indices": 5}


def encode(arch: Arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """``f32[..., D]`` features of the canonical form (isomorphic inputs encode equally)."""
  if kind not in ENCODING_DIMS:
    raise ValueError(f"unknown encoding {kind!r} for search space {NAME}; valid: "
                     f"{', '.join(ENCODING_DIMS)}")
  x = to_categorical(canonicalize(arch))
  if kind == "op_indices":
    return x.astype(jnp.float32)
  one = jax.nn.one_hot(x, NUM_OPS, dtype=jnp.float32)  # [..., 5, 9]; 9 patterns = 9 ops
  return one.reshape(x.shape[:-1] + (ENCODING_DIMS["adjacency_one_hot"],))


def _check(proteins: bool, arch) -> tuple[np.ndarray, np.ndarray]:
  """Host validation: (links, ops) as np.int32 or a one-line ValueError naming what is valid."""
  if not isinstance(arch, Arch):
    t = type(arch)
    raise ValueError(f"a {t.__module__}.{t.__qualname__} is not an architecture of search space "
                     f"{NAME} (expected jaxnas.spaces.nb_graph.Arch(links, ops))")
  links, ops = np.asarray(arch.links), np.asarray(arch.ops)
  if links.shape[-1:] != (NUM_NODES,) or ops.shape[-1:] != (NUM_NODES,):
    raise ValueError(f"{NAME} architecture needs links[4] and ops[4], got shapes {links.shape}, "
                     f"{ops.shape}")
  if np.any((links < 0) | (links > np.arange(NUM_NODES))):
    raise ValueError(f"{NAME} links out of range: node i (1-based) reads a node in 0..i-1, got "
                     f"{links.reshape(-1, 4)[0].tolist()}")
  allowed = _allowed_ops(proteins)
  if np.any(~np.isin(ops, allowed)):
    raise ValueError(f"{NAME} op index out of range: valid are {', '.join(f'{i}={OPS[i]}' for i in allowed)}")
  if np.any(np.all(ops == SKIP, -1)):
    raise ValueError(f"{NAME}: the all-skip architecture is not in the benchmark")
  return links.astype(np.int32), ops.astype(np.int32)


def to_string(arch: Arch):
  """``"0012:gcn,gin,fc,cheb"`` (a list for a batch)."""
  links, ops = np.asarray(arch.links), np.asarray(arch.ops)
  if links.ndim > 1:
    return [to_string(Arch(links=a, ops=b)) for a, b in zip(links.reshape(-1, 4), ops.reshape(-1, 4))]
  return "".join(str(int(v)) for v in links) + ":" + ",".join(OPS[int(o)] for o in ops)


def from_string(text: str) -> Arch:
  """Inverse of :func:`to_string`; also a benchmark key (``"87072"``). One-line ValueError."""
  s = str(text).strip()
  if s.isdigit():
    return key_to_arch(int(s))
  m = _STRING_RE.match(s)
  if m is None or any(n not in OPS for n in m.groups()[4:]):
    raise ValueError(f"not a {NAME} architecture string: {text!r} (expected 4 link digits, ':', 4 "
                     f"ops of {', '.join(OPS)}, e.g. '0123:gcn,gin,fc,cheb', or a benchmark key)")
  links = np.array([int(c) for c in m.groups()[:4]], np.int32)
  ops = np.array([OPS.index(n) for n in m.groups()[4:]], np.int32)
  _check(False, Arch(links=links, ops=ops))
  return Arch(links=jnp.asarray(links), ops=jnp.asarray(ops))


@functools.lru_cache(maxsize=None)
def make_space(proteins: bool = False) -> SearchSpace:
  """The :class:`SearchSpace` record (cached per option)."""
  proteins = bool(proteins)
  return SearchSpace(
      name=NAME, arch_type=Arch, num_archs=NUM_ARCHS, num_neighbours=NUM_NEIGHBOURS,
      sample=functools.partial(_sample, proteins), mutate=functools.partial(_mutate, proteins),
      neighbours=functools.partial(_neighbours, proteins),
      neighbour=functools.partial(_neighbour, proteins),
      is_valid=functools.partial(_is_valid, proteins), encode=encode, to_id=to_id,
      from_id=from_id, to_string=to_string, from_string=from_string,
      encodings=tuple(ENCODING_DIMS), fingerprint=fingerprint,
      neighbours_masked=functools.partial(_neighbours_masked, proteins),
      encoding_dims=tuple(ENCODING_DIMS.items()), categorical=(NUM_OPS,) * 5,
      to_categorical=to_categorical, from_categorical=from_categorical, ops=OPS,
      all_archs=all_archs, check=functools.partial(_check, proteins),
      options=(("proteins", proteins),), with_options=_with_options)


def _with_options(**options) -> SearchSpace:
  # naslib_valid (every search driver passes it) has no effect: NASLib has no such filter here
  bad = [k for k in options if k not in ("proteins", "naslib_valid")]
  if bad:
    raise ValueError(f"search space {NAME} takes options proteins, naslib_valid (no effect), not "
                     f"{', '.join(bad)}")
  return make_space(bool(options.get("proteins", False)))


SPACE = make_space(False)

__all__ = ["Arch", "NAME", "NUM_ARCHS", "OPS", "PATTERNS", "PROTEINS_OPS", "SPACE",
           "all_link_vectors", "canonical_key", "canonical_keys", "canonicalize", "from_id",
           "fingerprint", "key_to_arch", "make_space", "to_id"]
