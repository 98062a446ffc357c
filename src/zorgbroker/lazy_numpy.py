"""NumPy, loaded on first use, with one BLAS thread."""

from __future__ import annotations

import os
from types import ModuleType


def numpy_module() -> ModuleType:
    """NumPy, loaded only where it pays for its loading time (large files, large batches).

    Its OpenBLAS starts a thread per core when loaded, and those threads spin for a while
    waiting for matrix work that never comes: on two cores they took 3.4 % of the CPU samples
    of a million-row check, beside Polars (perf). Zorgbroker does no linear algebra, so unless
    the user chose otherwise, BLAS gets one thread (this counts only if NumPy is not loaded
    yet)."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import numpy

    return numpy
