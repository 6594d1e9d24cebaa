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
    warn_if_plain_http(ctx, host)
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


LOOPBACK = ("127.", "::1", "localhost")


def warn_if_plain_http(ctx: AppContext, host: str) -> bool:
    """Warn when the UI listens beyond this machine but its public address is not https
    (session cookies would then travel unencrypted). Returns True when it warned."""
    loopback = host.startswith(LOOPBACK)
    https = ctx.settings.public_base_url.strip().lower().startswith("https://")
    if loopback or https:
        return False
    log.warning(
        "Die Prüfoberfläche lauscht auf %s, aber METER_INTAKE_PUBLIC_BASE_URL (%s) ist nicht "
        "https: Sitzungs-Cookies gingen unverschlüsselt über das Netz. Bitte hinter einem "
        "https-Proxy betreiben und die öffentliche Adresse mit https:// eintragen.",
        host,
        ctx.settings.public_base_url,
    )
    return True


def serve(ctx: AppContext, *, host: str, port: int) -> None:
    """Serve until interrupted (Ctrl-C / SIGTERM)."""
    log.info("Prüfoberfläche läuft auf http://%s:%s/", host, port)
    make_server(ctx, host=host, port=port).run()
