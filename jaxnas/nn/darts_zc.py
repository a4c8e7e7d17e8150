"""The DARTS-space network with the architecture as an *input*: one compiled zero-cost program for
every genotype (NASLib's DARTS zero-cost network: C=32, 8 cells, search-style ops, no auxiliary
head; ``jaxnas.nn.darts.ZC_NETWORK``).

Scoring each genotype with its own :class:`jaxnas.nn.darts.DARTSNetwork` compiles one program per
genotype (~94 CPU-s at C=32, 8 cells): 725 genotypes would take ~19 CPU-hours. Here every cell's 8
``(input, op)`` slots hold the variables of *every* op, and the genotype, an ``int32[2, 8, 2]``
array, picks each slot's input (a dynamic index into a stack of the cell's states) and op
(``lax.switch``: a real conditional, since the program runs one genotype per call, never vmapped,
so only the chosen op computes). The program compiles once and is called from the host per
genotype.

Program size: each cell's 8 slots are ONE ``lax.scan`` whose body is ONE switch (7 ops; 14 in a
reduction cell, strided on a cell input or plain on a node), over the slots' stacked variables, so
a program holds 8 switches per pass instead of 64. Inside the branches the ops are plain functions
whose convolutions (depthwise and 1x1) go through :func:`jaxnas.nn.conv_vjp.conv`: autodiff's
backward convolutions are naive loops inside a branch on XLA:CPU, and depthwise convolutions are
slow everywhere there. Each slot's switch is rematerialised (``jax.checkpoint``): the backward pass
recomputes the chosen op instead of keeping every branch's residuals (JAX keeps the union, zero
filled). ``jacov`` and ``nwot`` share one train-mode forward (NWOT's ``K_H`` is its auxiliary
output); ``synflow`` is its own float64 pass. The one program is compiled with
:data:`XLA_OPTIONS`.

Exactness: the variables come from the 7 discrete networks whose every pair holds one op
(:func:`init`); Flax derives a parameter's initial value from its module path
(``cells_i/op_p/...``) alone, which is the same in the discrete network of any genotype whose pair
``p`` of cell ``i`` has that op. So with the same key the chosen ops get exactly the weights the
genotype's own discrete network gets, and synflow and NWOT equal the discrete network's up to float
summation order (the same layers, written as functions; measured equal to 7 digits on DARTS-V2 and
three sampled genotypes at C=4, 3 cells, ``tests/test_darts_zc.py``). jacov
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
from jaxnas.nn import conv_vjp
from jaxnas.nn import darts_ops as ops_lib
from jaxnas.nn.darts_ops import OPS, FactorizedReduce, ReLUConvBN, bn_config
from jaxnas.nn.layers import BatchNorm, Conv, Dense, batch_moments, normalize

Array = jax.Array
# proxies this network scores (exactly the discrete network's); others need the per-genotype path
PROXIES = ("synflow", "jacov", "nwot")
NUM_OPS = len(OPS)
# XLA compiler options of the one scoring program (code generation only). None by default: for
# synflow+jacov+nwot at C=4, 3 cells (load 10-11) XLA's compile took 64 CPU-s with the defaults,
# 75 with the legacy emitters (xla_cpu_use_fusion_emitters=False) and 27-35 with those and
# xla_backend_optimization_level=0 too; but level 0 leaves LLVM's loops unvectorised: one depthwise
# 5x5 + 1x1 + BN fwd+bwd at N=64, 32x32, C=32 ran 418 CPU-ms per call against 96 (default and
# legacy alike). The 725-genotype run calls the program 725 times, so run time wins.
XLA_OPTIONS: dict = {}


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


# ----------------------------------------------------------------------------- pure cell ops
# Inside the switch every op is a plain function of its (stacked, per-slot) variables: convs go
# through ``conv_vjp.conv``, whose gradients XLA:CPU runs fast inside a branch (autodiff's backward
# convolutions become naive loops there; depthwise ones are slow everywhere), and nothing is a Flax
# module, so one slot body is traced per cell shape.


def _agree_one(a: Array) -> Array:
  """NWOT's ``C C^T + (1 - C)(1 - C)^T`` of one activation ``f[N, ...]`` (exact integers)."""
  code = lax.stop_gradient((a.reshape(a.shape[0], -1) > 0).astype(jnp.float32))
  # (1 - C)(1 - C)^T = D - s_i - s_j + C C^T (s: row sums): one matmul instead of two, and the
  # same integers (exact in float32 below 2**24, as K_H itself)
  both = code @ code.T
  s = jnp.sum(code, axis=1)
  return 2.0 * both + (float(code.shape[1]) - s[:, None] - s[None, :])


def _bn(y: Array, p: dict, s: dict, train: bool) -> Array:
  """``layers.BatchNorm`` (DARTS's: eps 1e-5, running statistics) as a function."""
  if train:
    mean, var = batch_moments(y)
  else:
    mean, var = s["mean"], s["var"]
  return normalize(y, mean, var, p.get("scale"), p.get("bias"), 1e-5)


def _relu(x: Array, kh: list | None) -> Array:
  h = jax.nn.relu(x)
  if kh is not None:
    kh.append(_agree_one(h))
  return h


def _dil_conv(x, p, s, k: int, stride: int, dilation: int, train: bool, kh):
  """``darts_ops.DilConv``: ReLU -> depthwise k x k (dilated, strided) -> 1x1 -> BN."""
  h = _relu(x, kh)
  h = conv_vjp.conv(h, p["dw"]["kernel"], stride, dilation * (k // 2), dilation,
                    groups=h.shape[-1])
  h = conv_vjp.conv(h, p["pw"]["kernel"])
  return _bn(h, p.get("bn", {}), s.get("bn", {}), train)


def _op(name: str, x, p, s, stride: int, train: bool, search: bool, kh):
  """The DARTS op ``name`` (``darts_ops.make_op``) on ``x`` with variables ``p`` / ``s``."""
  if name.startswith("sep_conv"):
    k = ops_lib.KERNEL[name]
    h = _dil_conv(x, p["op1"], s.get("op1", {}), k, stride, 1, train, kh)
    return _dil_conv(h, p["op2"], s.get("op2", {}), k, 1, 1, train, kh)
  if name.startswith("dil_conv"):
    return _dil_conv(x, p, s, ops_lib.KERNEL[name], stride, 2, train, kh)
  if name in ("max_pool_3x3", "avg_pool_3x3"):
    h = (ops_lib.max_pool if name[:3] == "max" else ops_lib.avg_pool)(x, 3, stride, 1)
    return _bn(h, p.get("bn", {}), s.get("bn", {}), train) if search else h
  if name == "skip_connect" and stride == 1:
    return x
  if name == "skip_connect":  # FactorizedReduce
    h = _relu(x, kh)
    a = conv_vjp.conv(h, p["conv_1"]["kernel"], 2)
    b = conv_vjp.conv(h[:, 1:, 1:, :], p["conv_2"]["kernel"], 2)
    return _bn(jnp.concatenate([a, b], axis=-1), p.get("bn", {}), s.get("bn", {}), train)
  raise ValueError(f"unknown DARTS op {name!r}")


def _stack_slots(tree: dict, cell: str) -> dict:
  """``{op: {"op_0": t0, ..., "op_7": t7}}`` of one cell -> ``{op: t}`` with leaves ``[8, ...]``."""
  out = {}
  for name in OPS:
    slots = tree.get(name, {}).get(cell, {})
    if not slots:
      out[name] = {}
      continue
    out[name] = jax.tree.map(lambda *v: jnp.stack(v), *[slots[f"op_{p}"]
                                                       for p in range(dnet.NUM_PAIRS)])
  return out


def _cell_nodes(t0, t1, cell_arch, P_ops, B_ops, cn: str, c: int, red: bool, train: bool,
                search: bool, want_kh: bool, remat: bool):
  """The 4 intermediate nodes of one cell over its 8 slots, as ONE ``lax.scan`` whose body is one
  ``lax.switch`` (7 ops, or 14 in a reduction cell: strided on a cell input / plain on a node).

  The node states live in a stack (``[6, N, H, W, C]``; a reduction cell keeps its two inputs
  and its four nodes in two stacks, as their sizes differ); slot ``p`` reads its input with a
  dynamic index and writes node ``p // 2``'s running sum (pair ``p`` reads only inputs below
  ``2 + p // 2``, so it never reads that partial sum). Returns ``(nodes concatenated, K_H part)``.
  """
  n = t1.shape[0]
  pst, sst = _stack_slots(P_ops, cn), _stack_slots(B_ops, cn)
  kinds = ("input", "node") if red else ("any",)
  branches = []
  for kind in kinds:
    stride = 2 if kind == "input" else 1
    for name in OPS:
      def branch(xin, xnode, pv, sv, name=name, stride=stride, kind=kind):
        kh = [] if want_kh else None
        y = _op(name, xnode if kind == "node" else xin, pv[name], sv[name], stride, train,
                search, kh)
        k = sum(kh[1:], kh[0]) if kh else jnp.zeros((n, n), jnp.float32)
        return y, k
      branches.append(branch)

  def slot(index, xin, xnode, pv, sv):
    return lax.switch(index, branches, xin, xnode, pv, sv)

  if remat:  # the backward recomputes the chosen op: a switch's residuals are every branch's
    slot = jax.checkpoint(slot, prevent_cse=False)
  h_out = t1.shape[1] // 2 if red else t1.shape[1]
  zeros = jnp.zeros((dnet.NUM_NODES, n, h_out, h_out, c), t1.dtype)
  if red:
    carry0 = (jnp.stack([t0, t1]), zeros, jnp.zeros_like(zeros[0]), jnp.zeros((n, n), jnp.float32))
  else:
    carry0 = (jnp.concatenate([jnp.stack([t0, t1]), zeros]), None, jnp.zeros_like(t1),
              jnp.zeros((n, n), jnp.float32))

  def body(carry, xs):
    ins, nodes, acc, kh = carry
    p, pair, pv, sv = xs
    inp, op = pair[0], pair[1]
    if red:
      xin = lax.dynamic_index_in_dim(ins, jnp.clip(inp, 0, 1), 0, keepdims=False)
      xnode = lax.dynamic_index_in_dim(nodes, jnp.clip(inp - 2, 0, dnet.NUM_NODES - 1), 0,
                                       keepdims=False)
      index = op + NUM_OPS * (inp >= 2).astype(op.dtype)
    else:
      xin = lax.dynamic_index_in_dim(ins, jnp.clip(inp, 0, 2 + dnet.NUM_NODES - 1), 0,
                                     keepdims=False)
      xnode, index = xin, op
    y, k = slot(jnp.clip(index, 0, len(branches) - 1), xin, xnode, pv, sv)
    acc = jnp.where(p % 2 == 1, acc + y, y)  # node p // 2: pair 2j, then + pair 2j + 1
    if red:
      nodes = lax.dynamic_update_index_in_dim(nodes, acc, p // 2, 0)
    else:
      ins = lax.dynamic_update_index_in_dim(ins, acc, 2 + p // 2, 0)
    return (ins, nodes, acc, kh + k), None

  xs = (jnp.arange(dnet.NUM_PAIRS), cell_arch.astype(jnp.int32), pst, sst)
  (ins, nodes, _, kh), _ = lax.scan(body, carry0, xs)
  nodes = nodes if red else ins[2:]
  return jnp.concatenate(list(nodes), axis=-1), kh


def apply(variables: dict, arch: Array, x: Array, *, num_classes: int, C: int = 32,
          layers: int = 8, style: str = "search", train: bool = False, want_kh: bool = False,
          remat: bool = True):
  """The network of genotype ``arch`` (``int32[2, 8, 2]``, may be traced) on ``x``.

  Args:
    remat: recompute the chosen op in the backward pass (``jax.checkpoint`` around each slot's
      switch) instead of keeping the residuals of all its branches (values are the same).

  Returns:
    ``logits f32[N, num_classes]``, and with ``want_kh`` also NWOT's ``K_H f32[N, N]``.
  """
  search = style == "search"
  P, B = variables["params"], variables.get("batch_stats", {"net": {}, "ops": {}})
  pn, bn = P["net"], B.get("net", {})
  n = x.shape[0]
  kh = jnp.zeros((n, n), jnp.float32) if want_kh else None
  arch = jnp.asarray(arch)

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
    out, k = _cell_nodes(t0, t1, arch[1 if red else 0], P["ops"], B.get("ops", {}), cn, c, red,
                         train, search, want_kh, remat)
    if want_kh:
      kh = kh + k0 + k1 + k
    s0, s1 = s1, out
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


def _jacov_from_jacobian(jac: Array) -> Array:
  """``jaxnas.predictors.zero_cost.jacov`` from the per-image input Jacobians ``f32[N, D]``."""
  from jaxnas.predictors.zero_cost import _common as zcc  # pylint: disable=import-outside-toplevel
  from jaxnas.predictors.zero_cost import _proxies as zcp  # pylint: disable=import-outside-toplevel
  with jax.enable_x64(True):
    corr, ok = zcp._corrcoef(jac)  # pylint: disable=protected-access
    s = jnp.clip(jnp.linalg.eigvalsh(corr), 0.0, None)
    k = zcp._JACOV_K  # pylint: disable=protected-access
    out = -jnp.sum(jnp.log(s + k) + 1.0 / (s + k))
    out = jnp.where(ok, out, -jnp.inf).astype(jnp.float32)
  return zcc.finite(out)


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
    if "synflow" in proxies:
      out["synflow"] = zc.get("synflow")(key, apply_fn, variables, batch)
    if "jacov" in proxies or "nwot" in proxies:
      x, _ = batch
      if x.shape[0] < 2:
        raise ValueError("jacov and nwot need a batch of at least 2 images")

      # jacov's train-mode forward is nwot's: one pass gives the Jacobian and K_H
      def total(x):
        logits, k_h = apply(variables, arch, x, train=True, want_kh=True, **kw)
        return jnp.sum(logits), k_h

      if "jacov" in proxies:
        jac, k_h = jax.grad(total, has_aux=True)(x)
        out["jacov"] = _jacov_from_jacobian(jac.reshape(x.shape[0], -1))
      else:
        _, k_h = total(x)
      if "nwot" in proxies:
        out["nwot"] = _nwot_from_kh(k_h)
    return {p: out[p] for p in proxies}

  return score


def score_archs(archs, proxies: Sequence[str], batch, *, init_key, score_key, num_classes: int,
                C: int = 32, layers: int = 8, style: str = "search", image_size: int = 32,
                progress: Callable | None = None, xla_options: dict | None = None) -> dict:
  """Scores ``proxies`` on every genotype of ``archs`` (``int[A, 2, 8, 2]`` or the space's batched
  ``Arch``; validated) with ONE compiled program; the weights are those ``init_key`` gives each
  genotype's own discrete network.

  Args:
    xla_options: XLA compiler options of that one program (default :data:`XLA_OPTIONS`).

  Returns:
    ``{proxy: f32[A]}``.
  """
  a = dnet._batch(archs).astype(np.int64)  # pylint: disable=protected-access
  for x in a:  # one-line errors before anything compiles
    dnet.cells(x)
  score = scorer(proxies, num_classes, C=C, layers=layers, style=style)
  t0 = time.perf_counter()
  # op by op: jitted, the 7 template networks' init (forward included) compiles for longer than
  # it runs eagerly (C=2, 3 cells: 34 CPU-s vs 6); the values are the same
  variables = init(init_key, int(num_classes), C=int(C), layers=int(layers), style=style,
                   image_size=int(image_size))
  out = {p: np.zeros((len(a),), np.float32) for p in proxies}
  opts = dict(XLA_OPTIONS if xla_options is None else xla_options)
  arch0 = jnp.asarray(a[0], jnp.int32)
  compiled = score.lower(score_key, variables, arch0, batch).compile(compiler_options=opts or None)
  if progress is not None:  # 0 done: the init and compile time
    progress(0, len(a), time.perf_counter() - t0)
  for i, x in enumerate(a):
    row = jax.device_get(compiled(score_key, variables, jnp.asarray(x, jnp.int32), batch))
    for p in proxies:
      out[p][i] = row[p]
    if progress is not None:
      progress(i + 1, len(a), time.perf_counter() - t0)
  return out


__all__ = ["PROXIES", "apply", "init", "score_archs", "scorer"]
