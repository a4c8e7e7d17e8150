"""HW-NAS-Bench-360: the exact checks of SPACES.md section 6 on the real CSV, the combination view,
the NB201 build option and the reader's one-line errors."""

import csv
import gzip

import numpy as np
import pytest

from jaxnas import benchmarks as bm
from jaxnas.benchmarks import hw_nas_bench as hw


@pytest.fixture(scope="module")
def files(shared_data):
  path, nats = shared_data / hw.FILE, shared_data / "nb201" / "nats_bench.csv"
  if not path.is_file() or not nats.is_file():
    pytest.skip(f"{path} or {nats} not found (set JAXNAS_SHARED_DATA)")
  return path, nats


@pytest.fixture(scope="module")
def raw(files):
  return hw.read_csv(files[0])


@pytest.fixture(scope="module")
def order(files):
  return hw.official_order(files[1])


@pytest.fixture(scope="module")
def nats(files):
  with open(files[1], newline="") as f:
    return list(csv.DictReader(f))


def test_join_on_arch_idx_covers_every_cell_and_combination(raw):
  # read_csv refuses a missing or duplicated (arch_idx, combination): every one of the 187,500
  # rows landed in its own slot
  assert raw["lat_ms_median"].shape == (12, hw.NUM_ARCHS)
  assert np.isfinite(raw["lat_ms_median"]).sum() == 187_500
  assert np.isfinite(raw["accuracy"]).sum() == 187_500
  pixel = np.array([c.startswith("pixel/") for c in hw.COMBOS])
  assert np.isfinite(raw["energy_mj"][~pixel]).all() and np.isnan(raw["energy_mj"][pixel]).all()
  # the medians SPACES.md lists, pi5 litert / onnx / torchmobile then pixel litert
  want = {"cifar100": (3.26, 4.97, 7.92, 3.26), "ninapro": (2.63, 4.54, 6.69, 2.62),
          "darcy": (24.17, 35.28, 56.01, 24.66)}
  for t, meds in want.items():
    for (d, f), m in zip(hw.DEVICES_FRAMEWORKS, meds):
      k = hw.COMBOS.index(f"{d}/{f}/{t}")
      assert np.median(raw["lat_ms_median"][k]) == pytest.approx(m, abs=0.006)


def test_rep_arch_idx_is_the_smallest_index_of_the_isomorphism_class(raw, nats):
  first = {}
  expect = np.array([first.setdefault(r["UniqueString"], i) for i, r in enumerate(nats)])
  assert (raw["rep_arch_idx"] == expect).sum() == 15_625
  assert np.unique(raw["rep_arch_idx"]).size == 6_466


def test_rep_arch_idx_matches_the_tables_iso_classes(raw, order):
  iso = np.asarray(bm.load("nasbench201").iso_class)  # smallest dense id of each class
  o2i, rep = order.official_to_id, raw["rep_arch_idx"]
  # same partition: two cells share a representative iff they share a class
  assert (iso[o2i] == iso[o2i[rep]]).all()
  assert np.unique(iso).size == np.unique(rep).size == 6_466


def test_latency_and_energy_are_copied_from_the_representative(raw):
  rep = raw["rep_arch_idx"]
  for m in ("lat_ms_median", "lat_ms_var", "energy_mj"):
    t = raw[m]
    same = (t == t[:, rep]) | (np.isnan(t) & np.isnan(t[:, rep]))
    assert same.sum() == 187_500, m


def test_accuracy_depends_on_task_only_and_cifar100_matches_nats_bench(raw, nats):
  acc = raw["accuracy"]
  for t in hw.TASKS:
    ks = [hw.COMBOS.index(f"{d}/{f}/{t}") for d, f in hw.DEVICES_FRAMEWORKS]
    assert (acc[ks] == acc[ks[0]]).all()
  ref = np.array([float(r["CIFAR100TestAccuracy200Epochs"]) for r in nats], np.float32)
  c100 = acc[hw.COMBOS.index("pi5/litert/cifar100")]
  # "equal" up to float noise: 42 of the 13,139 differ from nats_bench.csv in the 7th digit
  same = np.isclose(c100, ref, rtol=0, atol=1e-4)
  assert same.sum() == 13_139
  diff = np.abs(c100 - ref)[~same]
  assert diff.mean() == pytest.approx(0.32, abs=0.01) and diff.max() == pytest.approx(2.92, abs=0.01)
  nina = acc[hw.COMBOS.index("pi5/litert/ninapro")]
  assert nina.min() == pytest.approx(64.80, abs=0.01) and nina.max() == pytest.approx(94.39, abs=0.01)
  darcy = acc[hw.COMBOS.index("pi5/litert/darcy")]
  assert darcy.min() == pytest.approx(-0.80, abs=0.01) and darcy.max() == pytest.approx(0.985, abs=0.001)


def test_combination_view_queries_by_dense_id(raw, order):
  from jaxnas.benchmarks import benchmark  # pylint: disable=import-outside-toplevel
  iso = np.asarray(bm.load("nasbench201").iso_class)
  view = benchmark.from_arrays(hw.combination_arrays(hw.to_dense(raw, order.official_to_id), iso))
  assert view.datasets == hw.COMBOS and view.space_name == "nasbench201"
  assert view.metric_names() == hw.METRICS and view.dataset_kind == "combination"
  assert not view.higher_is_better("lat_ms_median") and view.higher_is_better("accuracy")
  k = hw.COMBOS.index("pi5/onnx/ninapro")
  official = np.array([0, 1, 777, 15624])
  got = bm.query(view, order.official_to_id[official], ("lat_ms_median", "energy_mj"),
                 "pi5/onnx/ninapro")
  for m in got:
    np.testing.assert_array_equal(np.asarray(got[m]), raw[m][k, official])
  with pytest.raises(ValueError, match="valid: pi5/litert/cifar100"):
    bm.query(view, np.array(0), "lat_ms_median", "jetson/litert/cifar100")
  with pytest.raises(ValueError, match="unknown metric 'flops'"):
    bm.query(view, np.array(0), "flops", "pi5/onnx/ninapro")


@pytest.mark.extended
def test_nb201_build_option_and_its_combination_view(files, tmp_path):
  from jaxnas.benchmarks import io, nb201_build  # pylint: disable=import-outside-toplevel
  order = hw.official_order(files[1])
  nb = bm.load("nasbench201")
  arrays = {"name": np.array("nasbench201"), "datasets": np.array(nb201_build.DATASETS),
            "source": np.array("test"), "iso_class": np.asarray(nb.iso_class),
            "num_seeds": np.zeros((3, hw.NUM_ARCHS), np.int32),
            "official_to_id": order.official_to_id,
            "params": np.asarray(nb.tables["params"])}
  with pytest.raises(ValueError, match="needs --test-accuracy-csv"):
    nb201_build.add_hw_nas_bench({k: v for k, v in arrays.items() if k != "official_to_id"},
                                 files[0])
  out = io.save(tmp_path / "nb.npz", nb201_build.add_hw_nas_bench(arrays, files[0]))
  table = bm.load("nasbench201", out)
  key = hw.metric_key("pi5/litert/cifar100", "lat_ms_median")
  assert not table.higher_is_better(key) and table.higher_is_better("params") is False
  a = float(bm.query(table, np.array(5), key, "cifar10"))
  assert a == float(bm.query(table, np.array(5), key, "ImageNet16-120"))
  view, direct = hw.combination_benchmark(table), hw.load(*files)  # direct: read from the CSVs
  for m in hw.METRICS:
    np.testing.assert_array_equal(np.asarray(view.tables[m]), np.asarray(direct.tables[m]))
  with pytest.raises(ValueError, match="no HW-NAS-Bench-360 metrics"):
    hw.combination_benchmark(nb)


def _write(path, lines, gz=True):
  text = "\n".join(lines) + "\n"
  if gz:
    path.write_bytes(gzip.compress(text.encode()))
  else:
    path.write_text(text)
  return path


HEADER = ",".join(hw.COLUMNS)


@pytest.mark.parametrize("lines, match", [
    (["arch_idx,device"], "expected arch_idx,rep_arch_idx"),
    ([HEADER, "0,0,jetson,litert,cifar100,1,1,1,1,ok"], "unknown combination 'jetson/litert/cifar100'"),
    ([HEADER, "0,0,pi5,litert,cifar100,1,1,1,1,failed"], "status 'failed'"),
    ([HEADER, "0,0,pi5,litert,cifar100,fast,1,1,1,ok"], "non-numeric value 'fast'"),
    ([HEADER, "0,0,pi5,litert,cifar100,1,1,1,1,ok"], "has 1 rows, expected 187500"),
])
def test_reader_errors_are_one_line(tmp_path, lines, match):
  with pytest.raises(ValueError, match=match) as e:
    hw.read_csv(_write(tmp_path / "hw.csv.gz", lines))
  assert "\n" not in str(e.value) and "hw.csv.gz" in str(e.value)


def test_reader_missing_and_corrupt_files(tmp_path):
  with pytest.raises(FileNotFoundError, match="not found"):
    hw.read_csv(tmp_path / "absent.csv.gz")
  bad = tmp_path / "bad.csv.gz"
  bad.write_bytes(b"\x1f\x8b\x08\x00garbage")
  with pytest.raises(ValueError, match="corrupt gzip"):
    hw.read_csv(bad)
  with pytest.raises(ValueError, match="unknown HW-NAS-Bench-360 combination 'pi5/litert'"):
    hw.check_combo("pi5/litert")
  with pytest.raises(ValueError, match="unknown HW-NAS-Bench-360 metric 'flops'; valid"):
    hw.metric_key("pi5/litert/cifar100", "flops")
