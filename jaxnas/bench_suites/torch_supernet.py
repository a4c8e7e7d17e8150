"""A plain PyTorch CPU reference of the NB201 one-shot search step (``python -m jaxnas.bench
supernet --baseline torch``): the yardstick the jaxnas step is timed against in the same run.

Written from the NB201 search model (Dong & Yang's ``TinyNetworkDarts`` / ``TinyNetworkGDAS``,
as NASLib builds it): ``stem`` (Conv3x3 no bias -> BN), three stages of ``N`` search cells at
``C, 2C, 4C`` channels separated by two ``ResNetBasicblock`` reductions, ``lastact`` BN-ReLU,
global average pooling, ``classifier``. Every cell edge carries the five NB201 ops (``none``,
``skip_connect``, ``nor_conv_1x1``, ``nor_conv_3x3``, ``avg_pool_3x3``, padded zeros not counted)
with the search driver's cell BN (``jaxnas.drivers.oneshot.SEARCH_CELL_BN``: no affine, no
running statistics, so the ``ReLUConvBN`` convs carry a bias, NB201's ``bias=not affine``); stem,
reductions and head keep an affine BN with running statistics, as our supernet.

The steps (one bilevel round each, alpha update on the validation batch first):

* ``darts_1st``: mixed op ``sum_o softmax(alpha)_o op_o(x)``, first-order hypergradient;
* ``darts_2nd``: DARTS's unrolled hypergradient as Liu et al.'s ``_backward_step_unrolled``: a
  virtual SGD step ``w' = w - lr (momentum buf + dL_train/dw + wd w)``, ``dL_val(w')/dalpha``
  minus ``lr`` times the finite-difference Hessian-vector product (``R = 0.01 / |dw'|``, two more
  training-loss gradients w.r.t. alpha at ``w +- R dw'``);
* ``gdas``: a hard Gumbel-softmax sample per edge (straight-through), only the sampled op
  computed (NASLib's ``GDASMixedOp``: ``sum(h_i op_i(x) if i == index else h_i)``);
* ``drnas``: a Dirichlet ``rsample`` with concentration ``elu(alpha) + 1``, the mixed op, and the
  KL regulariser (scale 1e-3) on the validation loss.

Weights: SGD lr 0.025, momentum 0.9, weight decay 3e-4, gradient-norm clip 5; alphas: Adam 3e-4,
betas (0.5, 0.999), weight decay 1e-3 (the jaxnas defaults; the cosine schedule is left out, it
does not change the cost). PyTorch is an optional extra (``jaxnas[bench-torch]``); this module
imports it at the top and is imported only by the bench when ``--baseline torch`` is given.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # jaxnas.spaces.nb201.EDGES
NONE, SKIP, CONV1X1, CONV3X3, AVG_POOL = range(5)
CASES = ("darts_1st", "darts_2nd", "gdas", "drnas")


class ReLUConvBN(nn.Module):
  """NB201 ``ReLUConvBN`` (ReLU -> Conv -> BN); bias exactly when the BN is not affine."""

  def __init__(self, c_in, c_out, k, stride, affine, track):
    super().__init__()
    self.conv = nn.Conv2d(c_in, c_out, k, stride, k // 2, bias=not affine)
    self.bn = nn.BatchNorm2d(c_out, affine=affine, track_running_stats=track)

  def forward(self, x):
    return self.bn(self.conv(F.relu(x)))


def avg_pool_3x3(x):
  return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class MixedOp(nn.Module):
  """One edge with the five NB201 ops; the search cell BN (no affine, no running statistics)."""

  def __init__(self, c):
    super().__init__()
    self.nor_conv_1x1 = ReLUConvBN(c, c, 1, 1, False, False)
    self.nor_conv_3x3 = ReLUConvBN(c, c, 3, 1, False, False)

  def op(self, o, x):
    if o == NONE:
      return x.mul(0.0)
    if o == SKIP:
      return x
    if o == CONV1X1:
      return self.nor_conv_1x1(x)
    if o == CONV3X3:
      return self.nor_conv_3x3(x)
    return avg_pool_3x3(x)

  def forward(self, x, w, index=None):
    if index is None:  # DARTS / DrNAS: every op, weighted (``none`` is x * 0, as NASLib)
      return sum(w[o] * self.op(o, x) for o in range(len(OPS)))
    # GDAS: only the sampled op is computed; the others add their (zero-valued) weights
    return sum(w[o] * self.op(o, x) if o == index else w[o] for o in range(len(OPS)))


class SearchCell(nn.Module):
  def __init__(self, c):
    super().__init__()
    self.edges = nn.ModuleList([MixedOp(c) for _ in EDGES])

  def forward(self, x, weights, index=None):
    nodes = [x]
    for j in range(1, 4):
      acc = 0
      for k, (i, t) in enumerate(EDGES):
        if t == j:
          acc = acc + self.edges[k](nodes[i], weights[k], None if index is None else index[k])
      nodes.append(acc)
    return nodes[-1]


class ResNetBasicBlock(nn.Module):
  def __init__(self, c_in, c_out):
    super().__init__()
    self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, True, True)
    self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, True, True)
    self.downsample = nn.Conv2d(c_in, c_out, 1, bias=False)

  def forward(self, x):
    return self.conv_b(self.conv_a(x)) + self.downsample(F.avg_pool2d(x, 2, 2))


class NB201SearchModel(nn.Module):
  """The NB201 search supernet (NCHW). ``forward(x, weights f32[6, 5], index=None)``; ``index``
  (``int[6]``, GDAS) computes only that op per edge."""

  def __init__(self, num_classes=10, C=16, N=5):
    super().__init__()
    self.stem = nn.Sequential(nn.Conv2d(3, C, 3, 1, 1, bias=False), nn.BatchNorm2d(C))
    cells, c_prev = [], C
    for stage in range(3):
      c = C * 2**stage
      if stage:
        cells.append(ResNetBasicBlock(c_prev, c))
      cells += [SearchCell(c) for _ in range(N)]
      c_prev = c
    self.cells = nn.ModuleList(cells)
    self.lastact = nn.BatchNorm2d(c_prev)
    self.classifier = nn.Linear(c_prev, num_classes)

  def forward(self, x, weights, index=None):
    h = self.stem(x)
    for cell in self.cells:
      h = cell(h, weights, index) if isinstance(cell, SearchCell) else cell(h)
    h = F.relu(self.lastact(h))
    return self.classifier(h.mean((2, 3)))

  def load_jax(self, params) -> None:
    """Copies jaxnas ``NB201Supernet`` params (``cell_bn=SEARCH_CELL_BN``) into this model
    (HWIO kernels -> OIHW, Dense ``[in, out]`` -> ``[out, in]``)."""
    t = lambda a: torch.from_numpy(np.array(a, np.float32))
    conv = lambda m, p: (m.weight.data.copy_(t(p["kernel"]).permute(3, 2, 0, 1)),
                         m.bias is not None and m.bias.data.copy_(t(p["bias"])))
    bn = lambda m, p: (m.weight.data.copy_(t(p["scale"])), m.bias.data.copy_(t(p["bias"])))
    conv(self.stem[0], params["stem"]["conv"])
    bn(self.stem[1], params["stem"]["bn"])
    for i, cell in enumerate(self.cells):
      p = params[f"cells_{i}"]
      if isinstance(cell, ResNetBasicBlock):
        for name in ("conv_a", "conv_b"):
          conv(getattr(cell, name).conv, p[name]["conv"])
          bn(getattr(cell, name).bn, p[name]["bn_layer"])
        conv(cell.downsample, p["downsample"])
      else:
        for k, edge in enumerate(cell.edges):
          for name in ("nor_conv_1x1", "nor_conv_3x3"):
            conv(getattr(edge, name).conv, p[f"edge_{k}"][name]["conv"])
    bn(self.lastact, params["head"]["lastact"])
    self.classifier.weight.data.copy_(t(params["head"]["classifier"]["kernel"]).T)
    self.classifier.bias.data.copy_(t(params["head"]["classifier"]["bias"]))


def _gumbel_hard(alpha, tau):
  """GDAS's sample: ``(hardwts f32[6, 5] straight-through, index int[6])`` (NASLib/AutoDL)."""
  gumbels = -torch.empty_like(alpha).exponential_().log()
  probs = F.softmax((F.log_softmax(alpha, -1) + gumbels) / tau, -1)
  index = probs.max(-1, keepdim=True)[1]
  one_h = torch.zeros_like(probs).scatter_(-1, index, 1.0)
  return one_h - probs.detach() + probs, index.view(-1).tolist()


def _dirichlet_kl(c, p):
  c0, p0 = c.sum(-1), p.sum(-1)
  return (torch.lgamma(c0) - torch.lgamma(c).sum(-1) - torch.lgamma(p0) + torch.lgamma(p).sum(-1)
          + ((c - p) * (torch.digamma(c) - torch.digamma(c0)[..., None])).sum(-1))


class SearchStep:
  """One search step of ``case`` on a :class:`NB201SearchModel` (see the module doc)."""

  def __init__(self, case: str, model: NB201SearchModel, *, lr=0.025, momentum=0.9, wd=3e-4,
               clip=5.0, arch_lr=3e-4, arch_wd=1e-3, tau=10.0):
    if case not in CASES:
      raise ValueError(f"unknown torch reference case {case!r}; valid: {', '.join(CASES)}")
    self.case, self.model, self.tau = case, model, tau
    self.lr, self.momentum, self.wd, self.clip = lr, momentum, wd, clip
    self.alpha = (1e-3 * torch.randn(len(EDGES), len(OPS))).requires_grad_()
    self.w_opt = torch.optim.SGD(model.parameters(), lr, momentum=momentum, weight_decay=wd)
    self.a_opt = torch.optim.Adam([self.alpha], arch_lr, betas=(0.5, 0.999), weight_decay=arch_wd)

  def _loss(self, x, y, alpha=None):
    alpha = self.alpha if alpha is None else alpha
    reg = 0.0
    if self.case == "gdas":
      w, index = _gumbel_hard(alpha, self.tau)
      logits = self.model(x, w, index)
    elif self.case == "drnas":
      c = F.elu(alpha) + 1.0
      logits = self.model(x, torch.distributions.Dirichlet(c).rsample())
      reg = 1e-3 * _dirichlet_kl(c, torch.ones_like(c)).sum()
    else:
      logits = self.model(x, F.softmax(alpha, -1))
    return F.cross_entropy(logits, y) + reg, logits

  def _unrolled_alpha_grad(self, xt, yt, xv, yv):
    """DARTS's ``_backward_step_unrolled``: dL_val(w')/dalpha - lr * (finite-difference Hessian-
    vector product); leaves the gradient in ``alpha.grad``."""
    params = [p for p in self.model.parameters()]
    loss, _ = self._loss(xt, yt)
    g = torch.autograd.grad(loss, params)
    with torch.no_grad():
      saved = [p.detach().clone() for p in params]
      for p, gp in zip(params, g):  # the virtual SGD step
        buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
        d = gp + self.wd * p + (self.momentum * buf if buf is not None else 0.0)
        p.sub_(self.lr * d)
    loss, _ = self._loss(xv, yv)
    grads = torch.autograd.grad(loss, [self.alpha] + params)
    da, dw = grads[0], grads[1:]
    r = 0.01 / torch.sqrt(sum((d * d).sum() for d in dw))
    with torch.no_grad():
      for p, s, d in zip(params, saved, dw):
        p.copy_(s + r * d)
    gp = torch.autograd.grad(self._loss(xt, yt)[0], self.alpha)[0]
    with torch.no_grad():
      for p, s, d in zip(params, saved, dw):
        p.copy_(s - r * d)
    gn = torch.autograd.grad(self._loss(xt, yt)[0], self.alpha)[0]
    with torch.no_grad():
      for p, s in zip(params, saved):
        p.copy_(s)
    self.alpha.grad = da - self.lr * (gp - gn) / (2 * r)

  def __call__(self, xt, yt, xv, yv) -> float:
    """One bilevel round; returns the training loss."""
    self.model.train()
    self.a_opt.zero_grad()
    if self.case == "darts_2nd":
      self._unrolled_alpha_grad(xt, yt, xv, yv)
    else:
      self._loss(xv, yv)[0].backward()
    self.a_opt.step()
    self.w_opt.zero_grad()
    loss, _ = self._loss(xt, yt)
    loss.backward()
    nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
    self.w_opt.step()
    return float(loss.detach())


def time_case(case: str, *, C=16, N=5, batch=64, image=32, repeats=10, seed=0,
              threads: int | None = None) -> dict:
  """Times :class:`SearchStep` ``case`` on random data (one warm-up step, then ``repeats``);
  ``threads``: ``torch.set_num_threads`` for the run (None: PyTorch's default, every core).

  Returns:
    ``{"torch_step_ms" (median), "torch_step_ms_min", "torch_train_loss", "torch_threads",
    "torch_version"}``.
  """
  before = torch.get_num_threads()
  if threads:
    torch.set_num_threads(threads)
  try:
    return _time_case(case, C, N, batch, image, repeats, seed)
  finally:
    torch.set_num_threads(before)


def prepare_case(case: str, *, C=16, N=5, batch=64, image=32, seed=0):
  """The model, data and :class:`SearchStep` of ``case``: a zero-argument callable running one
  step on random data (the same batch as train and validation batch) and returning its loss.
  ``bench supernet`` interleaves it with the jaxnas step (one of each, alternately)."""
  torch.manual_seed(seed)
  model = NB201SearchModel(10, C, N)
  step = SearchStep(case, model)
  x = torch.randn(batch, 3, image, image)
  y = torch.arange(batch) % 10
  return lambda: step(x, y, x, y)


def timed_step(case: str, **kw):
  """:func:`prepare_case` in this process, as a callable returning ``(seconds, loss)``."""
  step = prepare_case(case, **kw)

  def run():
    t0 = time.perf_counter()
    loss = step()
    return time.perf_counter() - t0, loss
  return run


def _serve(conn, case: str, kw: dict) -> None:
  """The child process of :class:`ProcessStep`: builds the case, then runs one step per request
  (``None`` ends it) and answers ``(seconds, loss)``."""
  step = timed_step(case, **kw)
  conn.send((torch.get_num_threads(), torch.__version__))
  while conn.recv() is not None:
    conn.send(step())
  conn.close()


class ProcessStep:
  """:func:`prepare_case` in a process of its own (``spawn``): each call runs one step there and
  returns ``(seconds, loss)``, timed in the child, while the caller waits on a pipe.

  Why: timed in one process, torch's step and a large XLA program slow each other down (issue
  18, session 10: second-order DARTS took 25.7 s beside torch's 30.4 s in one order and 40.6 s
  beside 19.8 s alternating; session 11: first-order DARTS 2.5 s alone vs 3.3 s alternating in
  one process), through the allocator, page faults and caches of one address space. In two
  processes each side has its own; alternating their steps (``bench.time_paired``) still
  cancels the virtual machine's drift. The caller blocks while the child runs, and the child
  while the caller runs, so the two never compete for the cores.
  """

  def __init__(self, case: str, **kw):
    import multiprocessing  # pylint: disable=import-outside-toplevel
    ctx = multiprocessing.get_context("spawn")  # never fork a process that runs XLA
    self._conn, child = ctx.Pipe()
    self._proc = ctx.Process(target=_serve, args=(child, case, kw), daemon=True)
    self._proc.start()
    child.close()
    self.threads, self.version = self._conn.recv()

  def __call__(self):
    self._conn.send(True)
    return self._conn.recv()

  def close(self) -> None:
    try:
      self._conn.send(None)
    except (BrokenPipeError, OSError):
      pass
    self._proc.join(timeout=30)
    if self._proc.is_alive():
      self._proc.kill()


def summary(times, loss, threads: int | None = None, version: str | None = None) -> dict:
  """The ``torch_*`` fields of a case from its step times (seconds) and last loss (``threads``
  and ``version`` of the process that ran them; default this one's)."""
  return {"torch_step_ms": 1e3 * float(np.median(times)),
          "torch_step_ms_min": 1e3 * float(np.min(times)),
          "torch_train_loss": loss if math.isfinite(loss) else float("nan"),
          "torch_threads": threads or torch.get_num_threads(),
          "torch_version": version or torch.__version__}


def _time_case(case, C, N, batch, image, repeats, seed) -> dict:
  step = prepare_case(case, C=C, N=N, batch=batch, image=image, seed=seed)
  loss = step()  # warm-up
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    loss = step()
    times.append(time.perf_counter() - t0)
  return summary(times, loss)
