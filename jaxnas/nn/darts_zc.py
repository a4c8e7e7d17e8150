"""The DARTS-space network with the architecture as an *input*: one compiled zero-cost program for
every genotype (NASLib's DARTS zero-cost network: C=32, 8 cells, search-style ops, no auxiliary
head; ``jaxnas.nn.darts.ZC_NETWORK``).

Scoring each genotype with its own :class:`jaxnas.nn.darts.DARTSNetwork` compiles one program per
genotype (~94 CPU-s at C=32, 8 cells): 725 genotypes would take ~19 CPU-hours. Here every cell's 8
``(input, op)`` slots hold the variables of *every* op, and the genotype, an ``int32[2, 8, 2]``
array, picks each slot's input (``lax.select_n``) and op (``lax.switch``: a real conditional, since
the program runs one genotype per call, never vmapped, so only the chosen op computes). The program
compiles once and is called from the host per genotype.

Exactness: the variables come from the 7 discrete networks whose every pair holds one op
(:func:`init`); Flax derives a parameter's initial value from its module path
(``cells_i/op_p/...``) alone, which is the same in the discrete network of any genotype whose pair
``p`` of cell ``i`` has that op. So with the same key the chosen ops get exactly the weights the
genotype's own discrete network gets, and synflow and NWOT equal the discrete network's (the same
module code runs; measured equal on DARTS-V2 and two sampled genotypes at C=4, 3 cells). jacov
differentiates the summed logits in train mode, which on this network do not depend on the input
(every cell output is a sum of batch-normalised maps, so each pooled channel sums to 0 over the
batch; the same holds for NASLib's network): its Jacobians are float rounding on both paths and
are not comparable between two programs. The unchosen ops' kernels get zero gradients, so
sums over kernels (synflow) see only the chosen ops. NWOT's ``K_H`` is accumulated inside the
program from every ReLU the genotype instantiates (the ``probes.act`` points of the preprocessing and
of the chosen ops, as the discrete network's).
"""

from __future__ import annotations

import functools
import time
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util
from jax import lax

from jaxnas.nn import darts as dnet
from jaxnas.nn import darts_ops as ops_lib
from jaxnas.nn.darts_ops import OPS, FactorizedReduce, ReLUConvBN, bn_config
from jaxnas.nn.layers import BatchNorm, Conv, Dense

Array = jax.Array
# proxies this network scores (exactly the discrete network's); others need the per-genotype path
PROXIES = ("synflow", "jacov", "nwot")
NUM_OPS = len(OPS)


def _template(op: int) -> tuple:
  """Cells whose 8 pairs all hold ``op``, reading inputs 0, 1, 0, 1, ... (so every reduction-cell
  op is strided, as the stride-2 variant is the one with variables)."""
  pairs = tuple((p % 2, op) for p in range(dnet.NUM_PAIRS))
  return pairs, pairs


def _check(C: int, layers: int, style: str) -> None:
  dnet._check_style(style)  # pylint: disable=protected-access
  if C < 2 or C % 2 or layers < 3:
    raise ValueError(f"a DARTS network needs an even C >= 2 and layers >= 3; got C={C}, "
                     f"layers={layers}")


def init(key, num_classes: int, *, C: int = 32, layers: int = 8, style: str = "search",
         image_size: int = 32) -> dict:
  """Variables of the array network: ``{"params", "batch_stats"}``, each ``{"net": <stem,
  preprocessing, classifier>, "ops": {op name: {"cells_i": {"op_p": ...}}}}`` (module docstring).

  Args:
    key: the key a discrete ``DARTSNetwork.init`` would get (the same key gives the same weights).
    num_classes, C, layers, style: the network (``jaxnas.nn.darts.compile_darts``).
    image_size: input height = width of the example input.
  """
  _check(C, layers, style)
  x0 = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  out = {"params": {"net": {}, "ops": {}}, "batch_stats": {"net": {}, "ops": {}}}
  for o, name in enumerate(OPS):
    normal, reduce = _template(o)
    net = dnet.DARTSNetwork(normal, reduce, int(num_classes), int(C), int(layers), False, 0.0,
                            style)
    v = net.init(key, x0, False)
    for col in ("params", "batch_stats"):
      tree = dict(v.get(col, {}))
      ops = {}
      for i in range(layers):
        cell = dict(tree.get(f"cells_{i}", {}))
        slots = {k: cell.pop(k) for k in list(cell) if k.startswith("op_")}
        if slots:
          ops[f"cells_{i}"] = slots
        if o == 0 and cell:
          tree[f"cells_{i}"] = cell
      out[col]["ops"][name] = ops
      if o == 0:
        out[col]["net"] = {k: v for k, v in tree.items()}
  return out


def _agree(sown: dict, n: int) -> Array:
  """NWOT's ``sum_l C_l C_l^T + (1 - C_l)(1 - C_l)^T`` over the ``probes.act`` activations sown."""
  k_h = jnp.zeros((n, n), jnp.float32)
  for vals in traverse_util.flatten_dict(dict(sown)).values():
    for a in vals:
      code = (a.reshape(n, -1) > 0).astype(jnp.float32)
      k_h = k_h + code @ code.T + (1.0 - code) @ (1.0 - code).T
  return k_h


def _run(module, params, stats, x, train: bool, want_kh: bool):
  """``module(x, train)`` on its own variables; ``(y, K_H contribution or None)``."""
  v = {}
  if params:
    v["params"] = params
  if stats:
    v["batch_stats"] = stats
  mutable = ["batch_stats"] + (["intermediates"] if want_kh else [])
  y, st = module.apply(v, x, train, mutable=mutable)
  kh = _agree(st.get("intermediates", {}), x.shape[0]) if want_kh else None
  return y, kh


def apply(variables: dict, arch: Array, x: Array, *, num_classes: int, C: int = 32,
          layers: int = 8, style: str = "search", train: bool = False, want_kh: bool = False):
  """The network of genotype ``arch`` (``int32[2, 8, 2]``, may be traced) on ``x``.

  Returns:
    ``logits f32[N, num_classes]``, and with ``want_kh`` also NWOT's ``K_H f32[N, N]``.
  """
  search = style == "search"
  P, B = variables["params"], variables.get("batch_stats", {"net": {}, "ops": {}})
  pn, bn = P["net"], B.get("net", {})
  n = x.shape[0]
  kh = jnp.zeros((n, n), jnp.float32) if want_kh else None

  def add(total, part):
    return None if total is None else total + part

  cs = dnet.STEM_MULTIPLIER * C
  h = Conv(3, cs, 3, 1, 1).apply({"params": pn["stem_conv"]}, x)
  stem_v = {"params": pn.get("stem_bn", {}), "batch_stats": bn.get("stem_bn", {})}
  stem_v = {k: v for k, v in stem_v.items() if v}
  s0 = s1 = BatchNorm(cs, bn_config(True)).apply(stem_v, h, train, mutable=["batch_stats"])[0]
  for i, (c_pp, c_p, c, red, red_prev) in enumerate(dnet.plan(C, layers)):
    cn, cb = f"cells_{i}", bn.get(f"cells_{i}", {})
    cp = pn[cn]
    pre0 = FactorizedReduce(c_pp, c, True) if red_prev else ReLUConvBN(c_pp, c)
    t0, k0 = _run(pre0, cp["preprocess0"], cb.get("preprocess0"), s0, train, want_kh)
    t1, k1 = _run(ReLUConvBN(c_p, c), cp["preprocess1"], cb.get("preprocess1"), s1, train, want_kh)
    if want_kh:
      kh = kh + k0 + k1
    cell = arch[1 if red else 0]  # [8, 2]
    states = [t0, t1]
    for j in range(dnet.NUM_NODES):
      node = None
      for p in (2 * j, 2 * j + 1):
        inp, op = cell[p, 0], cell[p, 1]
        branches = []
        kinds = ("input", "node") if red and j > 0 else (("input",) if red else ("any",))
        for kind in kinds:
          stride = 2 if kind == "input" and red else 1
          for o, name in enumerate(OPS):
            pv = P["ops"][name].get(cn, {}).get(f"op_{p}", {})
            sv = B["ops"][name].get(cn, {}).get(f"op_{p}", {})
            mod = ops_lib.make_op(name, c, stride, affine=not search, search=search)

            def branch(xin, xnode, mod=mod, pv=pv, sv=sv, kind=kind):
              y, k = _run(mod, pv, sv, xnode if kind == "node" else xin, train, want_kh)
              return y, (k if want_kh else jnp.zeros((), jnp.float32))

            branches.append(branch)
        if red:
          xin = lax.select_n(jnp.clip(inp, 0, 1), t0, t1)
          xnode = (lax.select_n(jnp.clip(inp - 2, 0, j - 1), *states[2:]) if j > 0 else xin)
          index = op + NUM_OPS * (inp >= 2).astype(op.dtype) if j > 0 else op
        else:
          xin = lax.select_n(jnp.clip(inp, 0, len(states) - 1), *states)
          xnode, index = xin, op
        y, k = lax.switch(jnp.clip(index, 0, len(branches) - 1), branches, xin, xnode)
        if want_kh:
          kh = kh + k
        node = y if node is None else node + y
      states.append(node)
    s0, s1 = s1, jnp.concatenate(states[2:], axis=-1)
  c_last = 4 * dnet.plan(C, layers)[-1][2]
  logits = Dense(c_last, num_classes).apply({"params": pn["classifier"]}, jnp.mean(s1, axis=(1, 2)))
  return (logits, kh) if want_kh else logits


def _nwot_from_kh(k_h: Array) -> Array:
  """``log |K_H|`` as ``jaxnas.predictors.zero_cost.nwot`` takes it (float64 slogdet, SENTINEL)."""
  from jaxnas.predictors.zero_cost import _common as zcc  # pylint: disable=import-outside-toplevel
  with jax.enable_x64(True):
    _, logdet = jnp.linalg.slogdet(k_h.astype(jnp.float64))
    logdet = logdet.astype(jnp.float32)
  return zcc.finite(logdet)


def scorer(proxies: Sequence[str], num_classes: int, *, C: int = 32, layers: int = 8,
           style: str = "search") -> Callable:
  """``score(key, variables, arch, batch) -> {proxy: f32[]}``, jitted once for every genotype
  (``arch`` is an ``int32[2, 8, 2]`` argument).

  Raises:
    ValueError: a proxy outside :data:`PROXIES`.
  """
  bad = [p for p in proxies if p not in PROXIES]
  if bad:
    raise ValueError(f"the DARTS array network scores {', '.join(PROXIES)}; got {bad[0]!r}")
  _check(C, layers, style)
  from jaxnas.predictors import zero_cost as zc  # pylint: disable=import-outside-toplevel
  kw = {"num_classes": int(num_classes), "C": int(C), "layers": int(layers), "style": style}

  @jax.jit
  def score(key, variables, arch, batch):
    variables = {k: variables[k] for k in ("params", "batch_stats") if k in variables}

    def apply_fn(v, x, *, train, mutable):
      del mutable
      return apply(v, arch, x, train=train, **kw), {"batch_stats": v.get("batch_stats", {})}

    out = {}
    for name in proxies:
      if name == "nwot":
        x, _ = batch
        if x.shape[0] < 2:
          raise ValueError("nwot needs a batch of at least 2 images")
        _, k_h = apply(variables, arch, x, train=True, want_kh=True, **kw)
        out[name] = _nwot_from_kh(k_h)
      else:
        out[name] = zc.get(name)(key, apply_fn, variables, batch)
    return out

  return score


def score_archs(archs, proxies: Sequence[str], batch, *, init_key, score_key, num_classes: int,
                C: int = 32, layers: int = 8, style: str = "search", image_size: int = 32,
                progress: Callable | None = None) -> dict:
  """Scores ``proxies`` on every genotype of ``archs`` (``int[A, 2, 8, 2]`` or the space's batched
  ``Arch``; validated) with ONE
  compiled program; the weights are those ``init_key`` gives each genotype's own discrete network.

  Returns:
    ``{proxy: f32[A]}``.
  """
  a = dnet._batch(archs).astype(np.int64)  # pylint: disable=protected-access
  for x in a:  # one-line errors before anything compiles
    dnet.cells(x)
  score = scorer(proxies, num_classes, C=C, layers=layers, style=style)
  variables = jax.jit(functools.partial(init, num_classes=int(num_classes), C=int(C),
                                        layers=int(layers), style=style,
                                        image_size=int(image_size)))(init_key)
  out = {p: np.zeros((len(a),), np.float32) for p in proxies}
  t0 = time.perf_counter()
  for i, x in enumerate(a):
    row = jax.device_get(score(score_key, variables, jnp.asarray(x, jnp.int32), batch))
    for p in proxies:
      out[p][i] = row[p]
    if progress is not None:
      progress(i + 1, len(a), time.perf_counter() - t0)
  return out


__all__ = ["PROXIES", "apply", "init", "score_archs", "scorer"]
