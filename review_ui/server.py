"""Run the review UI with uvicorn. Logging stays with the caller (the CLI configured it)."""

from __future__ import annotations

import logging

import uvicorn

from core.context import AppContext
from review_ui.app import create_app

log = logging.getLogger(__name__)


def make_server(
    ctx: AppContext, *, host: str, port: int, proxy_headers: bool = False
) -> uvicorn.Server:
    """A uvicorn server for the app; `proxy_headers` only behind a trusted reverse proxy."""
    config = uvicorn.Config(
        create_app(ctx),
        host=host,
        port=port,
        proxy_headers=proxy_headers,
        forwarded_allow_ips="127.0.0.1" if proxy_headers else None,
        server_header=False,
        access_log=True,
        log_config=None,  # keep our logging setup; uvicorn's loggers propagate to it
        lifespan="off",
    )
    return uvicorn.Server(config)


def serve(ctx: AppContext, *, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    log.info("Prüfoberfläche läuft auf http://%s:%s/", host, port)
    make_server(ctx, host=host, port=port).run()
