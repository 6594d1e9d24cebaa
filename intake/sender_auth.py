"""Is the sender who the From says? Our own mail server checks SPF, DKIM and DMARC and stamps
`Authentication-Results` (RFC 8601) with its authserv-id; only those stamps are believed.

The topmost run of Authentication-Results fields carrying a trusted authserv-id is read (our
server adds its stamps on top; a sender can write such a field too, but only below them, and the
server should remove those: RFC 8601 section 5). The verdict for the From domain:

- `fail`: DMARC fails, or without a DMARC result SPF fails (`fail`, `softfail`) and no DKIM
  signature of the From domain passes;
- `pass`: DMARC passes, or a DKIM signature or SPF (envelope sender) of the From domain passes;
- `none`: nothing either way (no policy, neutral results);
- `missing`: no stamp of our server at the top.

A mail whose verdict is `fail` or `missing` is never booked automatically: its items go to a
clerk with `sender_not_verified`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any, Literal

from core.types import Decision, Submission
from intake.authresults import AuthResults, MethodResult, parse
from matching import reasons

Verdict = Literal["pass", "fail", "none", "missing"]
FIELD = "authentication-results"
UNVERIFIED: frozenset[str] = frozenset({"fail", "missing"})


def trusted_results(raw: bytes, trusted: frozenset[str]) -> list[AuthResults]:
    """The topmost run of Authentication-Results fields of a trusted authserv-id."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw, headersonly=True)
    found: list[AuthResults] = []
    for name, value in headers.items():
        if name.lower() != FIELD:
            if found:
                break  # below our server's run: anything else may be the sender's
            continue
        parsed = parse(str(value))
        if parsed.authserv_id in trusted:
            found.append(parsed)
    return found


def verdict(stamps: Sequence[AuthResults], from_domain: str) -> Verdict:
    if not stamps:
        return "missing"
    results = [r for stamp in stamps for r in stamp.results]
    domain = from_domain.lower()
    dmarc = [r.result for r in results if r.method == "dmarc" and _about(r, domain)]
    if "fail" in dmarc:
        return "fail"
    if "pass" in dmarc:
        return "pass"
    dkim = any(
        r.method == "dkim" and r.result == "pass" and _aligned(_dkim_domain(r), domain)
        for r in results
    )
    if dkim:
        return "pass"
    spf = [r for r in results if r.method == "spf"]
    if any(r.result in ("fail", "softfail") for r in spf):
        return "fail"
    if any(r.result == "pass" and _aligned(_spf_domain(r), domain) for r in spf):
        return "pass"
    return "none"


def check_sender(raw: bytes, sender: str | None, trusted: frozenset[str]) -> Verdict | None:
    """The verdict for the mail's From domain; None when no authserv-id is trusted (not checked)."""
    if not trusted:
        return None
    if not sender or "@" not in sender:
        return "missing"
    return verdict(trusted_results(raw, trusted), sender.rsplit("@", 1)[1])


def unverified_decision(decision: Decision, sender_check: str | None) -> Decision:
    """A mail from a sender our server could not confirm is never booked unseen."""
    if sender_check not in UNVERIFIED or decision.outcome not in ("accept", "review"):
        return decision
    code = reasons.SENDER_NOT_VERIFIED
    items = tuple(
        replace(item, outcome="review", reason_codes=reasons.blocking([code, *item.reason_codes]))
        for item in decision.items
    )
    return replace(
        decision,
        outcome="review",
        reason_codes=reasons.blocking([code, *decision.reason_codes]),
        items=items,
    )


def sender_details(submission: Submission) -> dict[str, Any]:
    """The review task's details (keys in matching/task_details.py)."""
    return {"sender_check": submission.sender_check}


def _about(result: MethodResult, domain: str) -> bool:
    named = result.properties.get("header.from")
    return named is None or named.lower().rstrip(".") == domain


def _dkim_domain(result: MethodResult) -> str:
    signer = result.properties.get("header.d") or result.properties.get("header.i", "")
    return signer.rsplit("@", 1)[-1]


def _spf_domain(result: MethodResult) -> str:
    return result.properties.get("smtp.mailfrom", "").rsplit("@", 1)[-1]


def _aligned(signer: str, domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    signer = signer.lower().rstrip(".")
    if not signer:
        return False
    return signer == domain or domain.endswith("." + signer) or signer.endswith("." + domain)
