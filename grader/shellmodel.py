"""What a shell scan returns: which shell a script runs in, the commands it runs, the ways
it swallows a failure, and `set` options as they change along the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

POSIX_SHELLS = {"bash", "sh", "dash", "zsh", "ksh"}


# Builtins that only print or test: `echo "pytest failed"` names the tool, never runs it.
NOT_RUNNERS = {"echo", "printf", ":", "true", "false", "exit", "return", "set", "test", "["}


@dataclass(frozen=True)
class Shell:
    """How the script is started: `set -e` on or not, `set -o pipefail` on or not."""

    errexit: bool
    pipefail: bool
    how: str


@dataclass(frozen=True)
class Command:
    """One simple command: its first line in the script (1-based), words and text."""

    line: int
    words: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Swallow:
    """`what`, at `line`, makes the script exit 0 although `command` failed."""

    line: int
    what: str
    command: str


@dataclass(frozen=True)
class Scan:
    gates: tuple[Command, ...] = ()
    swallows: tuple[Swallow, ...] = ()
    fallback: str | None = None


def apply_set(
    words: list[str] | tuple[str, ...], errexit: bool, pipefail: bool
) -> tuple[bool, bool]:
    """errexit and pipefail after `set WORDS` (also a shell's own command-line flags)."""
    for i, word in enumerate(words):
        if word in ("-o", "+o") and i + 1 < len(words):
            on, name = word == "-o", words[i + 1]
            errexit = on if name == "errexit" else errexit
            pipefail = on if name == "pipefail" else pipefail
        elif re.fullmatch(r"[-+][a-zA-Z]+", word) and "e" in word:
            errexit = word[0] == "-"
        if re.fullmatch(r"[-+][a-zA-Z]*o", word) and i + 1 < len(words):
            pipefail = (word[0] == "-") if words[i + 1] == "pipefail" else pipefail
    return errexit, pipefail
