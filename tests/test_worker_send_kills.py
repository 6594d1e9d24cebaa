"""kill -9 of a real worker process while it sends, at moments spread over the SMTP conversation,
against a real aiosmtpd that does the killing (bench/send_kills.py, a few kills), on SQLite and
PostgreSQL: no reply is lost, a reply arrives twice only after a kill that landed between the
server's 250 and the commit of `sent`, and every resend carries the row's own Message-ID."""

from __future__ import annotations

from bench.send_kills import Moment, run_kills
from core.context import AppContext

MOMENTS = [
    Moment("quit"),  # the mail before is marked sent; the next is being claimed and connected
    Moment("mail"),
    Moment("rcpt"),  # around the `sending` mark, before DATA
    Moment("data_discard"),  # cut off during DATA: the server keeps nothing
    Moment("data_keep"),  # the server keeps the mail, its 250 never arrives: inside the window
    Moment("accepted", 1.0),
]


def test_kills_while_sending_lose_nothing_and_duplicate_only_inside_the_window(
    ctx: AppContext,
) -> None:
    result = run_kills(ctx, MOMENTS, mails=8, backend=ctx.engine.dialect.name)

    assert result.lost == 0
    assert result.unsent_rows == 0
    assert result.foreign_ids == 0, "a resend under another Message-ID"
    assert result.changed_ids == 0
    twice = {mid for mid, n in result.counts.items() if n > 1}
    in_window = {mid for kill in result.kills for mid in kill.in_window}
    assert twice == in_window
    assert result.sent_twice == result.kills_in_window
    assert all(result.counts[mid] == 2 for mid in twice)
    by_moment = {str(kill.moment): bool(kill.in_window) for kill in result.kills}
    assert by_moment["data_keep"]
    assert not any(by_moment[m] for m in ("quit", "mail", "rcpt", "data_discard"))
    assert result.windows_ms, "no mail was marked sent after the server's 250"
