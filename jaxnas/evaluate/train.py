"""Moved to :mod:`jaxnas.drivers.train`; this old path is the same module object, so imports,
attribute access and monkeypatching of ``jaxnas.evaluate.train`` keep working."""

from __future__ import annotations

import sys

from jaxnas.drivers import train as _moved

sys.modules[__name__] = _moved
