"""The customer's side of a reminder's unsubscribe link: no login, the signed token is the key.

GET shows a page with one button (link scanners and mail previews fetch links, so a GET never
unsubscribes); POST records the opt-out. Mail programs that support RFC 8058 POST
`List-Unsubscribe=One-Click` to the same address directly.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.db import transaction
from notifications.unsubscribe import PATH, customer_of, opt_out, signing_key
from review_ui.web import Ctx, no_store, render

router = APIRouter()


@router.get(PATH + "/{token}")
def unsubscribe_page(request: Request, ctx: Ctx, token: str) -> Response:
    known = customer_of(token, signing_key(ctx.settings)) is not None
    context = {"token": token, "state": "ask" if known else "invalid"}
    return no_store(render(request, "unsubscribe.html", context, status_code=200 if known else 404))


@router.post(PATH + "/{token}")
def unsubscribe(request: Request, ctx: Ctx, token: str) -> Response:
    customer_id = customer_of(token, signing_key(ctx.settings))
    done = False
    if customer_id is not None:
        with transaction(ctx.sessions) as session:
            done = opt_out(session, customer_id, now=ctx.clock())
    context = {"token": token, "state": "done" if done else "invalid"}
    return no_store(render(request, "unsubscribe.html", context, status_code=200 if done else 404))
