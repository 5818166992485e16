"""Starting or joining Ray, done one way by every entry point (``platform train --workers N``,
``platform study``, the benchmarks and the tests).

A Ray this process already initialised is used as it is and left running. Otherwise the cluster
named by ``address`` (or, without one, by ``RAY_ADDRESS``, which ``ray job submit`` sets for its
drivers) is joined, or a private Ray is started with ``address="local"``, so that it never joins an
unrelated cluster on the same machine; what is started or joined here is shut down here.

A joined cluster keeps its own authentication: Ray 2.60 clusters started by ``ray start`` or
``ray up`` use token authentication when the head has a token, and the platform passes on whatever
``RAY_AUTH_MODE`` / ``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / ``~/.ray/auth_token`` the user
has. Only the private Ray runs without it: it listens on this machine for this process alone.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import ray

from axiomatic.errors import UserError

CONNECT_TIMEOUT_S = 5.0
TOKEN_PLACES = ("the cluster's token in RAY_AUTH_TOKEN, in a file named by RAY_AUTH_TOKEN_PATH, or in "
                "~/.ray/auth_token ('ray get-auth-token' on the head prints it)")


def cluster_address(address: str | None) -> str | None:
    """The cluster to join: ``address``, else ``RAY_ADDRESS``; None (or "local") for a private Ray."""
    address = address or os.environ.get("RAY_ADDRESS") or None
    return None if address == "local" else address


def check_cluster(address: str | None) -> str | None:
    """Fail within seconds, with what to do, when the cluster to join does not answer or refuses
    this process's credentials; ``ray.init`` itself retries for 20 s to minutes and then names
    neither. Returns the cluster's ``host:port`` (None: a private Ray will be started)."""
    source = "--address" if address else "RAY_ADDRESS"
    address = cluster_address(address)
    if address is None or address.startswith("ray://"):  # Ray Client checks its own connection
        return address
    bootstrap = _bootstrap_address(address, source)
    host, _, port = bootstrap.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise UserError(f"{source} {address}: no Ray cluster answers at {bootstrap} ({err}). Start one "
                        "with 'ray start --head' or 'ray up cluster.yaml', or leave --address out "
                        "(and unset RAY_ADDRESS) to run on an embedded Ray on this machine.") from None
    _check_credentials(bootstrap, f"{source} {address}", found_by_auto=address == "auto")
    return bootstrap


def _bootstrap_address(address: str, source: str) -> str:
    # Ray's own resolution of "auto" (the cluster `ray start` last recorded on this machine) and of
    # host names; there is no public API for it.
    from ray._private.services import canonicalize_bootstrap_address

    try:
        return canonicalize_bootstrap_address(address)
    except (ConnectionError, ValueError) as err:
        raise UserError(f"{source} {address}: {err}") from None


def _check_credentials(bootstrap: str, named: str, found_by_auto: bool) -> None:
    # Private Ray parts, for want of public ones: the token lookup ray.init itself does, and one GCS
    # call, which the cluster answers at once when a token is missing or wrong.
    from ray._private.authentication.authentication_token_setup import (
        maybe_enable_token_auth_if_token_available)
    from ray._raylet import AuthenticationTokenLoader, GcsClient

    if found_by_auto:  # as ray.init(address="auto") does: a token on this machine turns token mode on
        maybe_enable_token_auth_if_token_available(warn_if_disabled=False)
    token_mode = os.environ.get("RAY_AUTH_MODE", "").lower() == "token"
    if token_mode and not AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
        raise UserError(f"{named}: RAY_AUTH_MODE is token but no token was found: give {TOKEN_PLACES}.")
    try:
        GcsClient(address=bootstrap).internal_kv_get(b"axiomatic-probe", namespace=None,
                                                     timeout=CONNECT_TIMEOUT_S)
    except ray.exceptions.AuthenticationError as err:
        mode = os.environ.get("RAY_AUTH_MODE", "unset")
        raise UserError(f"{named}: the Ray cluster at {bootstrap} refused this process's "
                        f"authentication (RAY_AUTH_MODE is {mode}): {err.message.split('. ')[0]}. "
                        f"To join it, set RAY_AUTH_MODE=token and give {TOKEN_PLACES}.") from None


def alive_nodes(bootstrap: str) -> int:
    """How many nodes of the cluster at ``bootstrap`` (a ``check_cluster`` result) are alive."""
    from ray._raylet import GcsClient  # private, as in _check_credentials: no public call before ray.init

    nodes = GcsClient(address=bootstrap).get_all_node_info(timeout=CONNECT_TIMEOUT_S)
    return sum(info.state == 0 for info in nodes.values())  # 0: GcsNodeInfo.ALIVE


@contextmanager
def ray_session(address: str | None = None, num_cpus: float | None = None, num_gpus: int | None = None,
                **init_options) -> Iterator[str | None]:
    """``num_cpus`` / ``num_gpus`` size a private Ray (None: what Ray detects); a joined cluster
    keeps its own. ``init_options`` go to ``ray.init`` (``log_to_driver``, ``logging_level``).
    Yields the joined cluster's dashboard URL, if it has one (None for a private Ray)."""
    if ray.is_initialized():
        yield None
        return
    joined = check_cluster(address)
    dashboard = None
    if joined:
        context = ray.init(address=joined, **init_options)
        url = getattr(context, "dashboard_url", None)
        dashboard = (url if "://" in url else f"http://{url}") if url else None
    else:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # 2.60 would write ~/.ray/auth_token and warn
        ray.init(address="local", include_dashboard=False, num_cpus=num_cpus, num_gpus=num_gpus,
                 **init_options)
    try:
        yield dashboard
    finally:
        ray.shutdown()
