"""NAS-Bench-Macro (Su et al., "Prioritized Architecture Sampling with Monto-Carlo Tree Search",
CVPR 2021): 8 searchable layers, 3 choices each, 3^8 = 6,561 keys, 3,969 distinct networks.

Conventions (``../shared/SPACES.md`` section 4):

* an architecture is ``ops: int32[..., 8]``, one choice per searchable layer: 0 = identity,
  1 = MobileNetV2 inverted residual with expansion 3 and a 3x3 depthwise kernel (``mb3_k3``),
  2 = expansion 6, 5x5 kernel (``mb6_k5``);
* the string is NAS-Bench-Macro's key, the 8 digits (``"22212220"``); the **id** is the key read
  as a base-3 number (layer 0 most significant), ``0 .. 6560``, the row of the dense table;
* the layers form three stages of 2, 3 and 3 layers (layers 0-1, 2-4, 5-7); the first layer of a
  stage halves the resolution and doubles the channels, so its identity choice is a 1x1 stride-2
  conv + BN, while an identity elsewhere is a true identity. An identity in a non-first layer is
  therefore the same network as that identity moved to the end of its stage: NAS-Bench-Macro
  trained only these **canonical** keys (identities pushed to the stage end, the other layers in
  order) and gives every key its canonical key's record. :func:`canonical` maps a key to it;
  6,561 keys -> 3,969 networks (9 x 21 x 21);
* the **fingerprint** is the canonical key's id: equal iff the same network (what deduplication
  compares); the benchmark's ``iso_class`` is the smallest id of each class;
* encodings: ``adjacency_one_hot`` (24, one-hot of each layer's choice), ``op_indices`` (8) and
  ``path`` (= ``adjacency_one_hot``: the layers are one path, labelled by their choices);
* sampling is uniform over the 6,561 keys (as the keys are the benchmark's rows), mutation changes
  one layer to another choice and the neighbourhood is the 8 x 2 = 16 single-layer changes.
  NASLib has no NAS-Bench-Macro space.
"""

from __future__ import annotations

import dataclasses
import functools
import re

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from jaxnas.spaces import cell
from jaxnas.spaces.base import SearchSpace

NAME = "nasbench_macro"
OPS: tuple[str, ...] = ("identity", "mb3_k3", "mb6_k5")
NUM_LAYERS = 8
NUM_OPS = 3
NUM_ARCHS = NUM_OPS**NUM_LAYERS  # 6,561
NUM_NETWORKS = 3969
STAGES: tuple[tuple[int, ...], ...] = ((0, 1), (2, 3, 4), (5, 6, 7))  # layers per stage
IDENTITY, MB3_K3, MB6_K5 = range(3)
_KEY_RE = re.compile(r"^[012]{8}$")


@flax.struct.dataclass
class Arch(cell.CellArch):
  """A NAS-Bench-Macro key: the choice (0 identity, 1 MB3_K3, 2 MB6_K5) of each of the 8 layers."""

  ops: jax.Array  # [..., 8] int32


def format_string(ops: np.ndarray) -> str:
  """NAS-Bench-Macro's key: the 8 digits."""
  return "".join(str(int(v)) for v in ops)


def parse_string(s: str) -> list[int]:
  """Inverse of :func:`format_string`; one-line ValueError for any other string."""
  if not isinstance(s, str) or _KEY_RE.match(s.strip()) is None:
    raise ValueError(f"not a {NAME} architecture string: {s!r} (expected NAS-Bench-Macro's key: 8 "
                     "digits, one per layer, 0 identity, 1 MB3_K3, 2 MB6_K5, e.g. 22212220)")
  return [int(c) for c in s.strip()]


_CELL = cell.cell_space(NAME, [(i, i + 1) for i in range(NUM_LAYERS)], OPS, arch_type=Arch,
                        format_string=format_string, parse_string=parse_string)


def canonical_ops(ops: jax.Array) -> jax.Array:
  """``int32[..., 8]``: the real network's key, identities of non-first layers moved to the end of
  their stage (the other layers keep their order). Jittable."""
  ops = jnp.asarray(ops, jnp.int32)
  parts = []
  for stage in STAGES:
    parts.append(ops[..., stage[0]:stage[0] + 1])
    rest = ops[..., stage[1]:stage[-1] + 1]
    order = jnp.argsort((rest == IDENTITY).astype(jnp.int32), axis=-1, stable=True)
    parts.append(jnp.take_along_axis(rest, order, axis=-1))
  return jnp.concatenate(parts, -1)


def canonical(arch) -> Arch:
  """The canonical (trained) key of ``arch``, as an ``Arch``. Jittable."""
  return Arch(ops=canonical_ops(_CELL._ops(arch)))  # pylint: disable=protected-access


def fingerprint(arch) -> jax.Array:
  """``int32[...]``: the id of the canonical key; equal iff the same network. Jittable."""
  return _CELL.to_id(canonical(arch))


_ENCODINGS = {"adjacency_one_hot": NUM_LAYERS * NUM_OPS, "op_indices": NUM_LAYERS,
              "path": NUM_LAYERS * NUM_OPS}


def encode(arch, kind: str = "adjacency_one_hot") -> jax.Array:
  """``f32[..., D]``: ``adjacency_one_hot`` (24), ``op_indices`` (8) or ``path`` (24, equal to
  ``adjacency_one_hot``: the layers form one input-output path, whose labels are the choices)."""
  if kind == "path":
    kind = "adjacency_one_hot"
  if kind not in _ENCODINGS:
    raise ValueError(f"unknown encoding {kind!r} for search space {NAME}; valid: "
                     f"{', '.join(_ENCODINGS)}")
  return _CELL.encode(arch, kind)


@functools.lru_cache(maxsize=None)
def _record(cell_space: cell.CellSpace) -> SearchSpace:
  return dataclasses.replace(
      cell_space.as_search_space(), encode=encode, fingerprint=fingerprint,
      encodings=tuple(_ENCODINGS), encoding_dims=tuple(_ENCODINGS.items()),
      with_options=lambda **options: _record(cell_space.with_options(**options)))


SPACE = _record(_CELL)

sample, mutate, neighbours, neighbour = SPACE.sample, SPACE.mutate, SPACE.neighbours, SPACE.neighbour
neighbours_masked, is_valid, check = SPACE.neighbours_masked, SPACE.is_valid, SPACE.check
to_id, from_id, all_archs = SPACE.to_id, SPACE.from_id, SPACE.all_archs
to_string, from_string = SPACE.to_string, SPACE.from_string
ENCODING_DIMS = SPACE.encoding_dims


def iso_classes() -> np.ndarray:
  """``int32[6561]``: the smallest id of each key's network class (the table's ``iso_class``)."""
  fp = np.asarray(fingerprint(all_archs()))
  smallest = np.full(NUM_ARCHS, NUM_ARCHS, np.int64)
  np.minimum.at(smallest, fp, np.arange(NUM_ARCHS))
  return smallest[fp].astype(np.int32)


__all__ = ["Arch", "IDENTITY", "MB3_K3", "MB6_K5", "NAME", "NUM_ARCHS", "NUM_NETWORKS", "OPS",
           "SPACE", "STAGES", "canonical", "canonical_ops", "fingerprint", "iso_classes"]
