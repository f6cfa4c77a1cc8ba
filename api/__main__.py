"""``python -m api``: serve the REST API with uvicorn (what ``manage.py api`` runs).

Forwarded headers (``X-Forwarded-For``, ``X-Forwarded-Proto``) are believed only from
the proxies named in ``TRUSTED_PROXIES`` (none by default): uvicorn's own default
trusts the local host, which would let anything on it choose the client address that
sign-in throttling counts.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from api import default_workers
from api.main import logging_config
from config import ConfigError, get_settings
from data.db import normalise_url
from data.errors import Unavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        settings = get_settings()
    except ConfigError as exc:
        sys.stderr.write(f"python -m api: {exc}\n")
        return 2
    proxies = ",".join(str(network) for network in settings.proxies)
    if args.workers is not None and args.workers < 1:
        sys.stderr.write("python -m api: --workers must be at least 1.\n")
        return 2
    try:
        dialect = normalise_url(settings.database_url).get_backend_name()
    except Unavailable as exc:
        sys.stderr.write(f"python -m api: {exc}\n")
        return 2
    workers = args.workers or default_workers(dialect)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=workers,
        access_log=False,  # api.middleware logs each request with its request id
        log_config=logging_config(),
        server_header=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or "",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
