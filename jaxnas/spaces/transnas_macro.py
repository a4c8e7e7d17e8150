"""TransNAS-Bench-101 macro (Duan et al., CVPR 2021): 3,256 ResNet skeletons of 4 to 6 modules.

Conventions (``../shared/SPACES.md`` section 3):

* a skeleton is a string of 4, 5 or 6 module digits, each module two ResNet basic blocks:
  1 = keep, 2 = channels x2, 3 = resolution /2 (stride 2), 4 = both; the official string is
  ``64-{digits}-basic`` (base channels 64), e.g. ``64-1234-basic``;
* the space is every digit string of length 4-6 over {1, 2, 3, 4} with 1-4 down-sampling modules
  (digits 3, 4) and 1-3 channel-doubling modules (digits 2, 4): 210 + 750 + 2,296 = 3,256 skeletons,
  exactly the architecture set of NASLib's ``tnb101_macro_zen.zip`` (tested);
* the fixed-shape ``Arch`` is ``ops: int32[..., 6]``, the digits **zero-padded to 6** (digit 0 =
  ``none``, no module), as NASLib's zero-cost file writes its tuples (``(1, 2, 4, 2, 0, 0)``); a
  0 may only follow the 4th module, and only be followed by 0s;
* **ids** enumerate the 3,256 skeletons in lexicographic order of the padded 6-digit tuple (equal
  to the order of the padded tuple read as a base-5 number, :data:`CODES`): id 0 is
  ``64-111114-basic``, id 3,255 ``64-444311-basic``; ``to_id`` a gather from a code -> id table,
  ``from_id`` a gather, both jittable; the fingerprint is the id (no isomorphism reduction: every
  skeleton is its own table row).

Sampling. NASLib's ``sample_random_architecture`` draws the length r in {4, 5, 6}, the number of
down-samplings p in 1..4 and of doublings q in 1..3 uniformly, then a random permutation of the
resulting digit multiset (``min(p, q)`` 4s, ``p - min`` 3s, ``q - min`` 2s, the rest 1s): every
skeleton is reachable but it is **not uniform** over the 3,256 (a length-4 skeleton is drawn with
probability ~1/3 although only 210 of them exist). This space samples **uniformly over the 3,256
skeletons by default** (``sampler="uniform"``); ``get_space("transnas101_macro",
sampler="naslib")`` gives NASLib's (r, p, q) sampler, written jittably.

Mutation and neighbourhood. NASLib's macro ``mutate`` indexes a list with a boolean and raises; its
intended operator (change one of r, p, q and re-permute) and its neighbourhood (all three changed at
once) are not local moves. Here a neighbour changes **one module slot**: another digit for a module,
appending a module at the first empty slot, or removing the last module (a digit set to 0), kept
only when the result is in the space. ``neighbours_masked`` gives the 6 x 4 = 24 single-slot
changes with a mask of the valid ones (never empty); ``mutate`` draws uniformly among the valid
ones (directly: the ``r``-th of a precomputed list of each skeleton's valid neighbours).

Encodings: ``adjacency_one_hot`` (30: one-hot over 0-4 of each of the 6 padded digits),
``op_indices`` (6: the padded digits), ``counts`` (4: length, #down-samplings, #doublings,
#keep modules, the (r, p, q) view NASLib's sampler uses) and ``path`` (= ``adjacency_one_hot``: a
chain has a single input-output path, whose labels are the digits).

Options (fixed when the space is made): ``sampler`` (``"uniform"``, default, or ``"naslib"``) and
``naslib_valid`` (accepted for the generic interface: every skeleton is valid, so it changes
nothing).
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import rng
from jaxnas.spaces import cell
from jaxnas.spaces.base import SearchSpace

NAME = "transnas101_macro"
OPS: tuple[str, ...] = ("none", "keep", "double", "down", "double_down")  # digit -> module
NUM_SLOTS = 6
NUM_OPS = 5
MIN_MODULES = 4
NONE, KEEP, DOUBLE, DOWN, DOUBLE_DOWN = range(5)
SAMPLERS = ("uniform", "naslib")
_STRING_RE = re.compile(r"^64-([1-4]{4,6})-basic$")
_PLACE = NUM_OPS ** np.arange(NUM_SLOTS - 1, -1, -1)  # base-5, slot 0 most significant


def rule(digits) -> bool:
  """The enumeration rule (host-side): 4-6 module digits in 1..4 with 1-4 down-samplings (3, 4)
  and 1-3 doublings (2, 4)."""
  d = [int(v) for v in digits]
  down = sum(v in (DOWN, DOUBLE_DOWN) for v in d)
  double = sum(v in (DOUBLE, DOUBLE_DOWN) for v in d)
  return (MIN_MODULES <= len(d) <= NUM_SLOTS and all(1 <= v <= 4 for v in d) and 1 <= down <= 4
          and 1 <= double <= 3)


def _enumerate() -> np.ndarray:
  out = []
  for n in range(MIN_MODULES, NUM_SLOTS + 1):
    for d in itertools.product(range(1, 5), repeat=n):
      if rule(d):
        out.append(list(d) + [0] * (NUM_SLOTS - n))
  return np.asarray(out, np.int32)


_PADDED = _enumerate()
# the sorted base-5 codes of the 3,256 padded skeletons: id i <-> CODES[i]
CODES = np.sort((_PADDED * _PLACE).sum(-1)).astype(np.int32)
NUM_ARCHS = int(CODES.size)  # 3,256
# base-5 code -> id, for all 5**6 codes (one gather in to_id instead of a binary search: RE's
# per-query cost); codes of invalid tuples get the rank a binary search would give
_CODE_TO_ID = np.clip(np.searchsorted(CODES, np.arange(NUM_OPS**NUM_SLOTS)), 0, NUM_ARCHS - 1
                      ).astype(np.int32)


def _valid_fn(ops: jax.Array) -> jax.Array:
  """The rule on ``ops: int32[6]`` (jittable): modules first, then padding; length >= 4; counts."""
  present = ops != NONE
  prefix = jnp.all(present[1:] <= present[:-1])  # no module after an empty slot
  length = jnp.sum(present)
  down = jnp.sum((ops == DOWN) | (ops == DOUBLE_DOWN))
  double = jnp.sum((ops == DOUBLE) | (ops == DOUBLE_DOWN))
  return prefix & (length >= MIN_MODULES) & (down >= 1) & (down <= 4) & (double >= 1) & (double <= 3)


@flax.struct.dataclass
class Arch(cell.CellArch):
  """A TransNAS-Bench-101 macro skeleton: its module digits zero-padded to 6."""

  ops: jax.Array  # [..., 6] int32


def format_string(ops: np.ndarray) -> str:
  """``64-{digits}-basic`` of the padded digits."""
  return "64-" + "".join(str(int(v)) for v in ops if int(v) != NONE) + "-basic"


def parse_string(s: str) -> list[int]:
  """Inverse of :func:`format_string` (padded to 6); one-line ValueError for other strings."""
  m = _STRING_RE.match(s.strip()) if isinstance(s, str) else None
  if m is None or not rule(m.group(1)):
    raise ValueError(f"not a {NAME} architecture string: {s!r} (expected 64-{{digits}}-basic with "
                     "4-6 module digits 1-4 (1 keep, 2 channels x2, 3 resolution /2, 4 both), "
                     "1-4 of them 3/4 and 1-3 of them 2/4, e.g. 64-1234-basic)")
  d = [int(c) for c in m.group(1)]
  return d + [0] * (NUM_SLOTS - len(d))


_CELL = cell.cell_space(NAME, [(i, i + 1) for i in range(NUM_SLOTS)], OPS, valid_fn=_valid_fn,
                        arch_type=Arch, format_string=format_string, parse_string=parse_string,
                        num_archs=NUM_ARCHS)  # = the count of _valid_fn (tested)


def _rule_np(ops: np.ndarray) -> np.ndarray:
  """:func:`_valid_fn` in numpy over ``int[..., 6]`` (host-side checks without a device call)."""
  present = ops != NONE
  prefix = np.all(present[..., 1:] <= present[..., :-1], -1)
  down = np.sum((ops == DOWN) | (ops == DOUBLE_DOWN), -1)
  double = np.sum((ops == DOUBLE) | (ops == DOUBLE_DOWN), -1)
  return (prefix & (present.sum(-1) >= MIN_MODULES) & (down >= 1) & (down <= 4) & (double >= 1)
          & (double <= 3))


def check(arch) -> np.ndarray:
  """Host-side validation: the padded digits as ``np.int32[..., 6]``, or a one-line ValueError
  naming what is valid (wrong class or shape, a digit out of range, not a skeleton of the space)."""
  if hasattr(arch, "ops") and not isinstance(arch, Arch):
    _CELL.check(arch)  # raises the generic one-line error naming both classes
  arr = np.asarray(arch.ops if hasattr(arch, "ops") else arch)
  if (arr.ndim == 0 or arr.shape[-1] != NUM_SLOTS or not np.issubdtype(arr.dtype, np.integer)
      or ((arr < 0) | (arr >= NUM_OPS)).any()):
    return _CELL.check(arr)  # the generic one-line errors (shape, dtype, range)
  ok = _rule_np(arr)
  if not ok.all():
    bad = tuple(int(v) for v in arr.reshape(-1, NUM_SLOTS)[int(np.argmin(ok.reshape(-1)))])
    raise ValueError(f"{NAME} cell {bad} is rejected by the space's validity predicate: a "
                     "skeleton is 4-6 module digits 1-4 then 0s, with 1-4 of them 3/4 "
                     "(down-sampling) and 1-3 of them 2/4 (doubling)")
  return arr.astype(np.int32)


def to_string(arch) -> str | list:
  """``64-{digits}-basic``; a batch gives a list."""
  ops = check(arch)
  if ops.ndim > 1:
    return [format_string(r) for r in ops.reshape(-1, NUM_SLOTS)]
  return format_string(ops)


def from_string(s: str) -> "Arch":
  """Inverse of :func:`to_string`; one-line ValueError for other strings."""
  return Arch(ops=jnp.asarray(parse_string(s), jnp.int32))


def _ops(arch) -> jax.Array:
  return _CELL._ops(arch)  # pylint: disable=protected-access  (type check of the arch class)


def to_id(arch) -> jax.Array:
  """``int32[...]``: the rank of the skeleton in :data:`CODES` (jittable; no validity check: an
  invalid tuple gets the rank a binary search would give)."""
  code = jnp.sum(_ops(arch).astype(jnp.int32) * jnp.asarray(_PLACE, jnp.int32), axis=-1)
  return jnp.asarray(_CODE_TO_ID)[jnp.clip(code, 0, NUM_OPS**NUM_SLOTS - 1)]


def from_id(idx) -> Arch:
  """Inverse of :func:`to_id` (jittable; ids are clipped to ``[0, 3256)``)."""
  code = jnp.asarray(CODES)[jnp.clip(jnp.asarray(idx, jnp.int32), 0, NUM_ARCHS - 1)]
  ops = (code[..., None] // jnp.asarray(_PLACE, jnp.int32)) % NUM_OPS
  return Arch(ops=ops.astype(jnp.int32))


def all_archs() -> Arch:
  """The 3,256 skeletons in id order: ``ops: int32[3256, 6]``."""
  return from_id(jnp.arange(NUM_ARCHS))


def _naslib_one(key: jax.Array) -> jax.Array:
  """NASLib's (r, p, q) sampler for one skeleton (see the module doc): ``int32[6]``."""
  k_r, k_p, k_q, k_perm = rng.split(key, 4)
  length = MIN_MODULES + rng.randint(k_r, (), 3)
  p = 1 + rng.randint(k_p, (), 4)
  q = 1 + rng.randint(k_q, (), 3)
  i = jnp.arange(NUM_SLOTS)
  digits = jnp.where(i < length, 1 + 2 * (i < p) + (i < q), NONE)
  prio = jnp.where(i < length, rng.words(k_perm, NUM_SLOTS) >> 1, jnp.iinfo(jnp.int32).max)
  return digits[jnp.argsort(prio)].astype(jnp.int32)  # a uniform permutation of the modules


def sample_naslib(key: jax.Array, shape=()) -> Arch:
  """NASLib's (non-uniform) macro sampler; ``Arch`` with ``ops: int32[*shape, 6]``. Jittable."""
  shape = tuple(shape)
  n = int(np.prod(shape, dtype=np.int64))
  ops = jax.vmap(_naslib_one)(rng.split(key, max(n, 1))[:n])
  return Arch(ops=ops.reshape(*shape, NUM_SLOTS))


def sample_uniform(key: jax.Array, shape=()) -> Arch:
  """A skeleton uniformly from the 3,256; ``Arch`` with ``ops: int32[*shape, 6]``. Jittable."""
  return from_id(rng.randint(key, tuple(shape), NUM_ARCHS))


def _counts(ops: jax.Array) -> jax.Array:
  ops = ops.astype(jnp.int32)
  present = jnp.sum(ops != NONE, -1)
  down = jnp.sum((ops == DOWN) | (ops == DOUBLE_DOWN), -1)
  double = jnp.sum((ops == DOUBLE) | (ops == DOUBLE_DOWN), -1)
  keep = jnp.sum(ops == KEEP, -1)
  return jnp.stack([present, down, double, keep], -1).astype(jnp.float32)


def _neighbour_ids() -> np.ndarray:
  """``int32[3256, 24]``: the id of each of a skeleton's single-slot changes, in ``neighbours``
  order (slot-major, digit shift 1..4 mod 5), -1 where the change leaves the space."""
  k = NUM_SLOTS * (NUM_OPS - 1)
  slots = np.repeat(np.arange(NUM_SLOTS), NUM_OPS - 1)
  shifts = np.tile(np.arange(1, NUM_OPS), NUM_SLOTS)
  delta = np.eye(NUM_SLOTS, dtype=np.int64)[slots] * shifts[:, None]  # [K, 6]
  nbrs = (_PADDED_SORTED[:, None, :] + delta) % NUM_OPS  # [3256, K, 6]
  ids = _CODE_TO_ID[(nbrs * _PLACE).sum(-1)]
  return np.where(_rule_np(nbrs), ids, -1).astype(np.int32).reshape(NUM_ARCHS, k)


def mutate(key: jax.Array, arch) -> Arch:
  """One module slot changed, uniformly among the valid single-slot changes (module doc). The
  edit is drawn directly: one random word picks the ``r``-th of the parent's valid neighbours in a
  precomputed ``[3256, 24]`` list (valid ones first, in ``neighbours`` order), ``r`` uniform in
  ``[0, count)``; the same distribution as a uniform choice among the masked ``neighbours``
  (tested), without hashing 24 words per call (RE's hot path)."""
  idx = to_id(arch)
  count = jnp.asarray(_NBR_COUNT)[idx]  # [...] >= 1: every skeleton has a valid neighbour
  r = (rng.words(key, 1)[0] % count.astype(jnp.uint32)).astype(jnp.int32)
  return from_id(jnp.asarray(_NBR_LIST)[idx, r])


def from_naslib(op_indices) -> Arch:
  """NASLib's macro tuple: unpadded as in its zips (``(2, 2, 4, 3)``), zero-padded to 6 as in its
  zero-cost file (``(1, 2, 4, 2, 0, 0)``), ``int[..., 6]`` or the files' string ``"(2, 2, 4, 3)"``."""
  if isinstance(op_indices, str):
    body = op_indices.strip()
    try:
      if not (body.startswith("(") and body.endswith(")")):
        raise ValueError
      op_indices = [int(v) for v in body[1:-1].split(",") if v.strip()]
    except ValueError:
      raise ValueError(f"not a NASLib {NAME} tuple: {op_indices!r} (expected e.g. '(2, 2, 4, 3)' "
                       "or '(1, 2, 4, 2, 0, 0)')") from None
  arr = np.asarray(op_indices)
  if arr.ndim == 1 and MIN_MODULES <= arr.shape[0] < NUM_SLOTS:
    arr = np.concatenate([arr, np.zeros(NUM_SLOTS - arr.shape[0], arr.dtype)])
  return Arch(ops=jnp.asarray(check(arr), jnp.int32))


def to_naslib(arch, padded: bool = False) -> tuple | list:
  """NASLib's tuple: unpadded (its zips' ``arch`` field) or zero-padded to 6 (``padded=True``, its
  zero-cost file); a batch gives a list."""
  ops = check(arch)
  rows = [tuple(int(v) for v in row if padded or v != NONE) for row in ops.reshape(-1, NUM_SLOTS).tolist()]
  return rows if ops.ndim > 1 else rows[0]


_ENCODERS = {"adjacency_one_hot": NUM_SLOTS * NUM_OPS, "op_indices": NUM_SLOTS, "counts": 4,
             "path": NUM_SLOTS * NUM_OPS}


def encode(arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """``f32[..., D]``: ``adjacency_one_hot`` (30), ``op_indices`` (6), ``counts`` (4) or ``path``
  (30: a chain of modules has one input-output path, so BANANAS' path features reduce to the
  labels along it, i.e. ``adjacency_one_hot``; declared so BANANAS/NPENAS/BP defaults work)."""
  if kind == "counts":
    return _counts(_ops(arch))
  if kind == "path":
    kind = "adjacency_one_hot"
  if kind not in _ENCODERS:
    raise ValueError(f"unknown encoding {kind!r} for search space {NAME}; valid: "
                     f"{', '.join(_ENCODERS)}")
  return _CELL.encode(arch, kind)


_PADDED_SORTED = ((CODES[:, None] // _PLACE) % NUM_OPS).astype(np.int64)  # [3256, 6], id order
_NBR_IDS = _neighbour_ids()
# the valid neighbours' ids first (in neighbours order), then -1s; and how many there are
_NBR_COUNT = (_NBR_IDS >= 0).sum(-1).astype(np.int32)  # [3256], all >= 1
_NBR_LIST = np.take_along_axis(_NBR_IDS, np.argsort(_NBR_IDS < 0, axis=-1, kind="stable"), -1)

SPACE_OPTIONS = {"naslib_valid": True, "sampler": "uniform"}


@functools.lru_cache(maxsize=None)
def _record(naslib_valid: bool, sampler: str) -> SearchSpace:
  base = _CELL.as_search_space()
  return dataclasses.replace(
      base, num_archs=NUM_ARCHS,
      sample=sample_uniform if sampler == "uniform" else sample_naslib,
      mutate=mutate, encode=encode, to_id=to_id, from_id=from_id, fingerprint=to_id,
      all_archs=all_archs, encodings=tuple(_ENCODERS), encoding_dims=tuple(_ENCODERS.items()),
      from_naslib=from_naslib, check=check, to_string=to_string, from_string=from_string,
      options=(("naslib_valid", naslib_valid), ("sampler", sampler)),
      with_options=functools.partial(_with_options, naslib_valid, sampler))


def _with_options(current_naslib_valid: bool, current_sampler: str, **options) -> SearchSpace:
  naslib_valid, sampler = current_naslib_valid, current_sampler
  bad = [k for k in options if k not in SPACE_OPTIONS]
  if bad:
    raise ValueError(f"unknown option {bad[0]!r} for search space {NAME}; valid: "
                     f"{', '.join(SPACE_OPTIONS)}")
  v = options.get("naslib_valid")
  if v is not None:
    if not isinstance(v, (bool, np.bool_)) and v not in (0, 1):
      raise ValueError(f"option naslib_valid of search space {NAME} must be True or False, got {v!r}")
    naslib_valid = bool(v)
  s = options.get("sampler")
  if s is not None:
    if s not in SAMPLERS:
      raise ValueError(f"option sampler of search space {NAME} must be one of "
                       f"{', '.join(SAMPLERS)}, got {s!r}")
    sampler = s
  return _record(naslib_valid, sampler)


SPACE = _record(True, "uniform")

neighbours, neighbour, neighbours_masked = SPACE.neighbours, SPACE.neighbour, SPACE.neighbours_masked
is_valid = SPACE.is_valid
fingerprint = to_id
ENCODING_DIMS = SPACE.encoding_dims

__all__ = ["Arch", "CODES", "NAME", "NUM_ARCHS", "OPS", "SAMPLERS", "SPACE", "all_archs",
           "from_id", "from_naslib", "rule", "sample_naslib", "sample_uniform", "to_id",
           "to_naslib"]
