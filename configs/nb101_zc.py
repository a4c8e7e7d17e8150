"""Zero-cost proxies on NAS-Bench-101 networks (each cell's own network: 128-channel stem,
3 stacks x 3 modules), data-dependent ones on a Fashion-MNIST batch resized to 32x32x3.

  python -m jaxnas.run --config configs/nb101_zc.py --workdir runs/nb101_zc \
      --config.archs_file=my_nb101_archs.json            # NASLib 56-int tuples or spec strings
  python -m jaxnas.run --config configs/nb101_zc.py --workdir runs/nb101_zc \
      --config.num_archs=100 --config.benchmark.path=nb101.npz   # sampled cells, correlated

``params``/``flops`` are NAS-Bench-101's closed-form counts (TF ``trainable_parameters`` and
NASLib's tensorwatch FLOPs, in millions, as NASLib's ``params_mb``/``flops_m``). Every cell compiles
its own program (NB101 has no op-choice supernet: the topology sets the shapes), so the full-size
network takes tens of seconds per cell on a CPU; ``:smoke`` shrinks it (C=8, one stack of one
module, 3 cells, NWOT only) for a seconds-long check. The other keys are those of ``configs/zero_cost.py``.
"""

from jaxnas.drivers.zero_cost import zero_cost_config


def get_config(arg=None):
  c = zero_cost_config(arg)
  c.search_space = "nasbench101"
  c.proxies = ("epe_nas,fisher,flops,grad_norm,grasp,jacov,l2_norm,nwot,params,plain,snip,"
               "synflow,zen")
  c.num_archs = 100
  c.chunk_size = 1
  c.network.channels = 128
  c.network.cells_per_stage = 3  # modules per stack
  c.network.num_stacks = 3
  c.benchmark.name = ""  # with --config.benchmark.path: the NB101 table to correlate with
  if arg == "smoke":
    c.proxies = "nwot"
    c.num_archs = 3
    c.batch_size = 8
    c.network.channels = 8
    c.network.cells_per_stage = 1
    c.network.num_stacks = 1
  return c
