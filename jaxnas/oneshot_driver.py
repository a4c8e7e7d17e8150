"""Moved to :mod:`jaxnas.drivers.oneshot`; this old path is the same module object, so imports,
attribute access and monkeypatching of ``jaxnas.oneshot_driver`` keep working."""

from __future__ import annotations

import sys

from jaxnas.drivers import oneshot as _moved

sys.modules[__name__] = _moved
