"""Zero-cost proxies on NAS-Bench-201: scores, Spearman/Kendall correlations, scatter plots.

  python -m jaxnas.run --config configs/nb201_zc.py --workdir runs/zc
  python -m jaxnas.run --config configs/nb201_zc.py --config.proxies=synflow,nwot \
      --config.num_archs=1000 --config.benchmark.path=nb201_full.npz   # correlate with test acc

``data.name``/``data.path`` give the images for data-dependent proxies (default: the Fashion-MNIST
IDX files of the shared data, resized to 32x32x3); data-free proxies (synflow, params, flops,
l2_norm, zen) load no data.
"""

from jaxnas.drivers.zero_cost import zero_cost_config


def get_config(arg=None):
  c = zero_cost_config(arg)  # the keys of configs/zero_cost.py, on NB201 with its table
  c.proxies = ("epe_nas,fisher,flops,grad_norm,grasp,jacov,l2_norm,nwot,params,plain,snip,"
               "synflow,zen")
  if arg != "smoke":
    c.num_archs = 0  # 0 = all 15,625 cells; else a seeded random subset
  c.benchmark.name = "nasbench201"
  return c
