"""Supernet step benchmarks (``python -m jaxnas.bench supernet --json OUT``) and the Fashion-MNIST
search measurement used for the README figures.

``bench_supernet`` times one jitted search step of DARTS (first and second order), GDAS and DrNAS
on the full NB201 supernet (C=16, N=5, two batches of 64 32x32x3 images per step, as NASLib's
CIFAR-10 search) on the default device, after compilation: median step time, images per second
(train + validation images per step), compile time, and peak memory (device ``memory_stats``
peak where the backend reports it, otherwise the process's peak RSS from ``getrusage``, which
is a high-water mark of the whole process and so only grows from one entry to the next).
"""

from __future__ import annotations

import json
import pathlib
import resource
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxnas import nn as jnn
from jaxnas.optimizers import oneshot as oneshot_lib

CASES = (("darts_1st", "darts", {}), ("darts_2nd", "darts", {"second_order": True}),
         ("gdas", "gdas", {}), ("drnas", "drnas", {}))


def _peak_memory() -> tuple[float, str]:
  dev = jax.devices()[0]
  try:
    stats = dev.memory_stats() or {}
  except Exception:  # pylint: disable=broad-except
    stats = {}
  if "peak_bytes_in_use" in stats:
    return stats["peak_bytes_in_use"] / 2**20, "device peak_bytes_in_use"
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
  return rss / (2**20 if sys.platform == "darwin" else 2**10), "process max RSS (host)"


def bench_supernet(json_out: str, quick: bool = False, repeats: int = 10) -> dict:
  """Times search steps on the NB201 supernet and writes the figures as JSON.

  Args:
    json_out: output path (its folder is created).
    quick: a tiny setting (C=4, N=1, batch 8, 16x16, 3 timed steps) for tests.
    repeats: timed steps per case (after one compiling call and one warm-up step).

  Returns:
    ``{"device", "setting", "results": {case: {"step_ms", "images_per_s", "compile_s",
    "peak_mib", "memory_source"}}}``.
  """
  C, N, B, H = (4, 1, 8, 16) if quick else (16, 5, 64, 32)
  repeats = 3 if quick else repeats
  net = jnn.supernet_nb201(10, C, N, cell_bn=jnn.BNConfig(affine=False, track_running_stats=False))
  k = jax.random.key(0)
  x = jax.random.normal(k, (B, H, H, 3), jnp.float32)
  y = jnp.arange(B, dtype=jnp.int32) % 10
  out = {"device": str(jax.devices()[0]), "backend": jax.default_backend(),
         "device_count": jax.device_count(),
         "setting": {"C": C, "N": N, "batch": B, "image": [H, H, 3], "images_per_step": 2 * B},
         "results": {}}
  for label, name, kw in CASES:
    opt = oneshot_lib.make(name, net, epochs=50, steps_per_epoch=100, **kw)
    # unsafe_rbg init key: threefry's per-parameter path hashing compiles for minutes on CPU
    state = jax.jit(opt.init)(jax.random.key(0, impl="unsafe_rbg"), (x, y))
    step = jax.jit(opt.step)
    t0 = time.perf_counter()
    compiled = step.lower(k, state, (x, y), (x, y)).compile()
    compile_s = time.perf_counter() - t0
    state, m = compiled(k, state, (x, y), (x, y))  # warm-up
    jax.block_until_ready((state, m))
    times = []
    for i in range(repeats):
      t0 = time.perf_counter()
      state, m = compiled(jax.random.fold_in(k, i), state, (x, y), (x, y))
      jax.block_until_ready((state, m))
      times.append(time.perf_counter() - t0)
    med = float(np.median(times))
    peak, source = _peak_memory()
    out["results"][label] = {"step_ms": 1e3 * med, "images_per_s": 2 * B / med,
                             "compile_s": compile_s, "peak_mib": peak, "memory_source": source,
                             "train_loss": float(m.train_loss)}
  path = pathlib.Path(json_out)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(out, indent=1))
  return out


def fashion_search(name: str, workdir: str | None = None, *, epochs: int = 3,
                   max_examples: int = 2048, image_size: int = 16, channels: int = 4,
                   cells: int = 1, batch_size: int = 32, seed: int = 0, **hparams) -> dict:
  """A small one-shot search on Fashion-MNIST from the shared data (the measurement behind
  "every optimizer lowers the training loss"): returns :func:`run_oneshot`'s results."""
  from jaxnas import oneshot_driver as drv  # pylint: disable=import-outside-toplevel
  c = drv.oneshot_config(name, **hparams)
  c.data.name = "fashion_mnist"
  c.data.max_examples = max_examples
  c.data.image_size = image_size
  c.epochs, c.batch_size, c.seed = epochs, batch_size, seed
  c.network.channels, c.network.cells_per_stage = channels, cells
  c.score_archs, c.score_batches = 50, 2
  return drv.run_oneshot(c, workdir, quiet=True)


if __name__ == "__main__":
  if sys.argv[1:2] == ["fashion"]:
    for opt_name in sys.argv[2].split(","):
      t = time.perf_counter()
      r = fashion_search(opt_name, f"/tmp/fashion_{opt_name}")
      h = r["history"]
      print(json.dumps({"optimizer": opt_name, "seconds": time.perf_counter() - t,
                        "compile_s": r["compile_seconds"], "train_loss": r["train_loss"],
                        "valid_accuracy": r["valid_accuracy"], "archs": r["archs"],
                        "best_arch": r["best_arch"], "cifar10_val": r["benchmark_val_accuracy"],
                        "cifar10_test": r["benchmark_test_accuracy"],
                        "first_last_step_loss": [h[0]["train_loss"], h[-1]["train_loss"]]}),
            flush=True)
  else:
    print(json.dumps(bench_supernet(sys.argv[1] if len(sys.argv) > 1 else "/tmp/bench.json",
                                    quick="--quick" in sys.argv), indent=1))
