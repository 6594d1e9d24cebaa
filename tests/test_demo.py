"""`meter-intake demo` builds the embedded default end to end, and a second run adds nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.demo import demo_mails, run_demo
from core.context import AppContext
from core.models import InboundMessage, Outbox, Reading, ReviewTask, User
from core.settings import Settings


def _counts(ctx: AppContext) -> dict[str, int]:
    with ctx.sessions() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (InboundMessage, Outbox, Reading, ReviewTask, User)
        }


def test_demo_runs_end_to_end_and_is_repeatable(
    settings: Settings, ctx: AppContext, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_demo(settings, serve_after=False) == 0
    out = capsys.readouterr().out
    assert "sachbearbeiter" in out and "Prüfoberfläche" in out
    access = settings.var_dir / "demo-zugang.txt"  # where the passwords are, wherever var is
    assert f"(gespeichert in {access})" in out and access.is_file()

    with ctx.sessions() as session:
        statuses = dict(
            session.execute(
                select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
            ).all()
        )
        assert sum(statuses.values()) == len(demo_mails())
        assert statuses.get("accepted", 0) >= 1, statuses
        assert statuses.get("review", 0) + statuses.get("rejected", 0) >= 2, statuses
        assert "failed" not in statuses
        kinds = set(session.scalars(select(Outbox.kind)))
        assert {"confirmation", "resend_request", "received_review"} <= kinds
    first = _counts(ctx)

    assert run_demo(settings, serve_after=False) == 0
    assert _counts(ctx) == first
