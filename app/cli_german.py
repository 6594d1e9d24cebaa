"""argparse in German: "Aufruf:", "Optionen", "-h, --help  diese Hilfe zeigen" and the usual
errors (a required argument missing, an unknown choice or argument), for every command and
subcommand of `meter-intake` (subparsers take their parent's class)."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from typing import Any, NoReturn

ERRORS = (
    (r"the following arguments are required: (.*)", r"diese Angaben fehlen: \1"),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)", r"\1: \2 gibt es nicht (\3)"),
    (r"argument (\S+): expected one argument", r"\1 braucht einen Wert"),
    (r"argument (\S+): invalid (\S+) value: (.*)", r"\1: \3 ist keine gültige Angabe"),
    (r"unrecognized arguments: (.*)", r"unbekannte Angaben: \1"),
    (r"argument (\S+): (.*)", r"\1: \2"),
)


def in_german(message: str) -> str:
    for pattern, german in ERRORS:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, german, message)
    return message


class GermanHelpFormatter(argparse.HelpFormatter):
    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "Aufruf: " if prefix is None else prefix)


class GermanArgumentParser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", GermanHelpFormatter)
        add_help = kwargs.pop("add_help", True)
        kwargs["add_help"] = False  # our own -h, in German
        super().__init__(*args, **kwargs)
        self._positionals.title = "Argumente"
        self._optionals.title = "Optionen"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS,
                help="diese Hilfe zeigen und beenden",
            )  # fmt: skip

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: Fehler: {in_german(message)}\n")
