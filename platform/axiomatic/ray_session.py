"""Starting or joining Ray, done one way by every entry point (``platform train --workers N``,
``platform study``, the benchmarks and the tests).

A Ray this process already initialised is used as it is and left running. Otherwise ``address`` is
joined, or a private Ray is started with ``address="local"``, so that it never joins an unrelated
cluster on the same machine; what is started or joined here is shut down here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: float | None = None, num_gpus: int | None = None,
                **init_options) -> Iterator[None]:
    """``num_cpus`` / ``num_gpus`` size a private Ray (None: what Ray detects); a joined cluster
    keeps its own. ``init_options`` go to ``ray.init`` (``log_to_driver``, ``logging_level``)."""
    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # 2.60 would write ~/.ray/auth_token and warn
    resources = {} if address else {"num_cpus": num_cpus, "num_gpus": num_gpus}
    ray.init(address=address or "local", include_dashboard=False, **resources, **init_options)
    try:
        yield
    finally:
        ray.shutdown()
