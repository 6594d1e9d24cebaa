"""Run the review UI with uvicorn. Logging stays with the caller (the CLI configured it)."""

from __future__ import annotations

import logging

import uvicorn

from core.context import AppContext
from review_ui.app import create_app

log = logging.getLogger(__name__)


def make_server(ctx: AppContext, *, host: str, port: int) -> uvicorn.Server:
    """A uvicorn server for the app. X-Forwarded-* headers count only from the reverse proxies
    that `forwarded_allow_ips` names: from anyone else they would let a client choose the
    address its login failures are counted under."""
    proxies = ctx.settings.forwarded_allow_ips
    config = uvicorn.Config(
        create_app(ctx),
        host=host,
        port=port,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
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
