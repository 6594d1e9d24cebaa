"""Parse an `Authentication-Results` header field (RFC 8601) into its authserv-id and results.

Pure and defensive: comments (nested, with quoted pairs) are dropped, folded lines unfolded, values
may be quoted strings; a field that does not follow the grammar gives what could be read, never an
exception. Method, result and property names are lowercased; values keep their case.

    Authentication-Results: mx.stadtwerke.example 1;
        dkim=pass (2048-bit key) header.d=example.de header.s=sel;
        spf=fail smtp.mailfrom=x@example.de; dmarc=fail (p=REJECT) header.from=example.de
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EQUALS = "="
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|=|[^\s=]+')


@dataclass(frozen=True)
class MethodResult:
    method: str  # dkim, spf, dmarc, arc, …
    result: str  # pass, fail, softfail, none, neutral, temperror, permerror, policy, …
    properties: dict[str, str] = field(default_factory=dict)  # "header.d" -> "example.de"
    reason: str | None = None


@dataclass(frozen=True)
class AuthResults:
    authserv_id: str  # lowercased; "" when the field names none
    results: tuple[MethodResult, ...] = ()


def strip_comments(text: str) -> str:
    """`text` without RFC 5322 comments: `(…)`, nested, outside quoted strings."""
    out: list[str] = []
    depth = 0
    quoted = False
    chars = iter(text)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            if depth == 0:
                out.append(char + escaped)
            continue
        if quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def _split(text: str) -> list[str]:
    """Split at `;` outside quoted strings."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _value(token: str) -> str:
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return re.sub(r"\\(.)", r"\1", token[1:-1])
    return token


def _pairs(text: str) -> list[tuple[str, str]]:
    """`name=value` pairs of one resinfo (spaces around `=` and `.` allowed)."""
    parts: list[str] = []
    for part in _TOKEN.findall(text):
        glue = parts and EQUALS not in (part, parts[-1])
        if glue and (parts[-1].endswith(".") or part.startswith(".")):
            parts[-1] += part  # "header . d" -> "header.d"
        else:
            parts.append(part)
    return [
        (parts[i - 1].lower(), _value(parts[i + 1]))
        for i in range(1, len(parts) - 1)
        if parts[i] == EQUALS and EQUALS not in (parts[i - 1], parts[i + 1])
    ]


def _result(text: str) -> MethodResult | None:
    pairs = _pairs(text)
    if not pairs:
        return None
    (method, result), rest = pairs[0], pairs[1:]
    reason = next((value for name, value in rest if name == "reason"), None)
    props = {name: value for name, value in rest if "." in name}
    return MethodResult(method.split("/")[0], result.lower(), props, reason)


def parse(value: str) -> AuthResults:
    """One header field's value (without the `Authentication-Results:` name)."""
    text = " ".join(strip_comments(re.sub(r"\r?\n[ \t]", " ", value)).split())
    head, *resinfos = _split(text)
    words = _TOKEN.findall(head)
    if not words or EQUALS in words:  # no authserv-id (a result where it belongs): not ours
        return AuthResults("", ())
    results = tuple(r for r in map(_result, resinfos) if r is not None)
    return AuthResults(_value(words[0]).lower(), results)
