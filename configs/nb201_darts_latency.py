"""Latency-aware DARTS on NAS-Bench-201: the alphas descend the validation loss plus
``latency_weight`` times the expected latency of the mixed cell, from a per-(edge, op) lookup
table fitted to a HW-NAS-Bench-360 combination (see ``jaxnas.optimizers.oneshot.latency`` and
docs/latency_oneshot.md).

  python -m jaxnas.run --config configs/nb201_darts_latency.py --workdir runs/darts_lat
  python -m jaxnas.run --config configs/nb201_darts_latency.py --config.latency_weight=1 \\
      --config.latency_combo=pixel/litert/cifar100 --workdir runs/darts_lat_pixel
  python -m jaxnas.run --config configs/nb201_darts_latency.py:gdas --workdir runs/gdas_lat
  # the Fashion-MNIST sweep of docs/latency_oneshot.md (a few CPU-minutes per weight):
  python -m jaxnas.run --config configs/nb201_darts_latency.py --config.data.name=fashion_mnist \\
      --config.data.max_examples=1024 --config.data.image_size=16 --config.epochs=4 \\
      --config.batch_size=32 --config.network.channels=4 --config.network.cells_per_stage=1 \\
      --config.latency_weight=1 --workdir runs/darts_lat_w1

Keys beyond ``configs/nb201_darts.py``:
  latency_weight: the trade-off weight (>= 0): the regulariser is ``latency_weight * (E[lat] -
    min) / (max - min)``, the expected latency above the cheapest cell as a fraction of the
    range the table allows, so 1 weighs the whole latency range like one nat of validation loss;
    0 = plain DARTS (bit for bit), the latency still reported.
  latency_combo: the HW-NAS-Bench-360 combination (``device/framework/task``, 12 of them);
    ``""`` = ``latency_metric`` is a metric of the config's benchmark (NB201 ``latency`` or
    ``params``).
  latency_metric: ``lat_ms_median`` (default) or ``energy_mj`` (Raspberry Pi 5 only).
  latency_csv: the HW-NAS-Bench-360 CSV (``""``: ``$JAXNAS_SHARED_DATA/nb201/hw_nas_bench_360.csv.gz``).
``results.json`` gets per epoch ``history[i].cost`` (``true``: the discovered cell's latency in the
table, ``predicted``: the fit's, ``accuracy``: its task accuracy) and a ``latency`` section (the
weight, the fitted table with its R^2, the final cell's figures).
"""

from jaxnas.drivers.oneshot import oneshot_config


def get_config(arg=None):
  c = oneshot_config(arg or "darts")  # darts or gdas
  c.latency_weight = 1.0
  c.latency_combo = "pi5/litert/cifar100"
  c.latency_metric = "lat_ms_median"
  c.latency_csv = ""
  return c
