"""An S3-compatible server on 127.0.0.1 (moto's server mode, in a thread of the test process),
with one bucket; what a study needs to keep its run there through pyarrow, as on AWS."""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def s3_bucket(bucket: str = "studies"):
    """Yield the URI prefix of ``bucket`` on a fresh server (``s3://bucket?endpoint_override=...``).
    The credentials go into os.environ for the duration: a Ray started inside passes them on."""
    with s3_server(bucket) as (uri, _):
        yield uri


@contextmanager
def s3_server(bucket: str = "studies"):
    """:func:`s3_bucket`, and the server itself (its ``stop()`` takes the bucket away for good)."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    saved = {name: os.environ.get(name) for name in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        boto3.client("s3", endpoint_url=f"http://{host}:{port}").create_bucket(Bucket=bucket)
        yield f"s3://{bucket}?endpoint_override={host}:{port}&scheme=http", server
    finally:
        server.stop()  # a second stop, after take_away, returns at once
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def under(bucket_uri: str, path: str) -> str:
    """``s3://bucket/path?query`` from ``s3://bucket?query``."""
    base, query = bucket_uri.split("?", 1)
    return f"{base}/{path}?{query}"


def take_away(server) -> None:
    """The server gone for good: connections refused. ``stop()`` alone leaves its socket listening,
    where requests would wait as on a paused server."""
    server.stop()
    server._server.server_close()
