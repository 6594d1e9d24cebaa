"""Whom an automatic reply goes to, and how it greets: only where it is safe.

- A mail from an address that belongs to no customer gets no automatic reply unless the setting
  `reply_to_unknown_senders` allows it; a clerk sees the mail and may answer. Otherwise anyone
  could make us mail any address, or make us thank a customer for a stranger's mail.
- A reply about a meter goes only to the address on file for that meter's customer; when the
  sender's address differs, the reply says so neutrally (`not_sender`).
- A reply never quotes what the sender chose (display name, subject): it greets by the customer
  name on file, or neutrally.

Pure; `intake.replies` gathers the facts from the database.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplyTarget:
    recipient: str | None  # None: no automatic reply
    name: str | None = None  # the customer name on file to greet; None: a neutral greeting
    not_sender: bool = False  # the reply goes to the address on file, not to the sender's


def reply_target(
    *,
    sender: str | None,
    sender_name_on_file: str | None,
    sender_on_file: bool,
    customer_email: str | None,
    customer_name: str | None,
    allow_unknown: bool,
) -> ReplyTarget:
    """Where the reply about one mail goes.

    `sender_on_file`: a customer has the sender's address; `sender_name_on_file`: that
    customer's name (when exactly one has it); `customer_email`/`customer_name`: the customer of
    the meter (or account) the mail was matched to, if any.
    """
    if not sender_on_file and not allow_unknown:
        return ReplyTarget(None)
    if customer_email:
        return ReplyTarget(customer_email, customer_name, not _same(sender, customer_email))
    if customer_name is not None:
        return ReplyTarget(None)  # the meter's customer has no address: nobody else is told
    if sender_on_file:
        return ReplyTarget(sender, sender_name_on_file)
    return ReplyTarget(sender)


def _same(first: str | None, second: str) -> bool:
    return (first or "").strip().lower() == second.strip().lower()
