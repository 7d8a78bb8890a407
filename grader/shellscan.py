"""Would a shell script still exit 0 if one of its commands failed?

A CI step passes when its script exits 0. `scan` asks, for every command the caller
calls a gate (the tests, the linter): if only that command failed, would the script
still exit 0, and which construct makes it so? The script is parsed with bashlex and
followed the way bash runs it: `set -e` and its exemptions (`if`/`while` conditions,
all but the last command of a `&&`/`||` list, `!`), a pipeline's status (its last
command's, unless `set -o pipefail`), `||` fallbacks, subshells, `exit`, `set +e`
and a later look at `$?`. Every command other than the gate is taken to succeed. A
script bashlex cannot parse is read line by line instead, and the scan says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from grader.shellmodel import NOT_RUNNERS, POSIX_SHELLS, Command, Scan, Shell, Swallow, apply_set
from grader.shellparse import Parsed, prepared, runs

__all__ = ["NOT_RUNNERS", "Command", "Scan", "Shell", "Swallow", "apply_set"]


def shell_for(spec: str | None) -> Shell | None:
    """The shell GitHub starts for a step's `shell:` (None: the default); None if not POSIX."""
    if not spec:
        return Shell(True, False, "bash -e {0}")
    if spec == "bash":
        return Shell(True, True, "bash --noprofile --norc -eo pipefail {0}")
    if spec == "sh":
        return Shell(True, False, "sh -e {0}")
    words = spec.split()
    if PurePosixPath(words[0]).name not in POSIX_SHELLS:
        return None
    errexit, pipefail = apply_set(words[1:], False, False)
    return Shell(errexit, pipefail, spec)


def script_shell(invocation: tuple[str, ...], text: str) -> Shell:
    """The shell a repo script runs in: `bash -e x.sh` flags, else its `#!` line's."""
    first = text.splitlines()[0] if text else ""
    flags: list[str] = []
    if PurePosixPath(invocation[0]).name in POSIX_SHELLS:
        flags = list(invocation[1:-1])  # bash reads `#!` as a comment
    elif first.startswith("#!"):
        flags = first[2:].split()[1:]
    errexit, pipefail = apply_set(flags, False, False)
    return Shell(errexit, pipefail, " ".join(invocation))


def _parse(script: str) -> Any:
    """bashlex's tree of the script; bashlex is imported here, when a script is read (it
    builds its parser tables on import: a tenth of a second every grader start would pay)."""
    import bashlex  # type: ignore[import-untyped]

    return bashlex.parse(prepared(script))


def scan(script: str, is_gate: Callable[[Command], bool], shell: Shell) -> Scan:
    """The gate commands of `script`, and for each one that fails silently, why."""
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in script.splitlines()):
        return Scan()
    try:
        nodes = _parse(script)
    except Exception as exc:  # bashlex raises many kinds (NotImplementedError for `case`)
        return line_scan(script, is_gate, shell, f"{type(exc).__name__}: {exc}")
    try:
        return Parsed(script, nodes, is_gate).scan(shell)
    except Exception as exc:  # a tree shape bashlex makes that this reading does not know
        return line_scan(script, is_gate, shell, f"{type(exc).__name__} in its tree: {exc}")


def commands(script: str) -> tuple[Command, ...] | None:
    """The commands a script runs (not those that only print), or None if bashlex fails."""
    try:
        parsed = Parsed(script, _parse(script), lambda c: True)
    except Exception:  # bashlex raises many kinds (NotImplementedError for `case`)
        return None if script.strip() else ()
    return tuple(parsed.command(g) for g in parsed.gates)


# --- parsing ------------------------------------------------------------------------------


# --- fallback: line by line ---------------------------------------------------------------

_LINE_SWALLOWS = [
    (re.compile(r"\|\|\s*(true|:|echo|printf|exit\s+0)\b[^;&|]*"), "`{}`"),
    (re.compile(r"\bexit\s+0\b"), "`{}`"),
    (re.compile(r"(?<!\|)\|\s*tee\b.*"), "`{}` without `set -o pipefail`"),
]


def line_scan(script: str, is_gate: Callable[[Command], bool], shell: Shell, why: str) -> Scan:
    """Conservative: a gate line with `|| true`, `exit 0`, `| tee`, or after `set +e`."""
    gates, swallows = [], []
    errexit_off = "" if shell.errexit else f"the shell `{shell.how}` (no -e)"
    pipefail = shell.pipefail or "pipefail" in script
    for n, line in enumerate(script.splitlines(), 1):
        code = line.split(" #")[0].strip()
        if re.match(r"set\s+\+\w*e", code):
            errexit_off = f"`{code}` (line {n})"
        command = Command(n, tuple(code.split()), code)
        if not code or code.startswith("#") or not runs(command, is_gate):
            continue
        gates.append(command)
        what = _line_swallow(code, pipefail) or (errexit_off and f"{errexit_off}, maybe")
        if what:
            swallows.append(Swallow(n, what, code))
    return Scan(tuple(gates), tuple(swallows), f"bashlex could not parse the script ({why[:120]})")


def _line_swallow(code: str, pipefail: bool) -> str | None:
    for rx, template in _LINE_SWALLOWS:
        found = rx.search(code)
        if found and not (pipefail and "tee" in template + found.group()):
            return template.format(found.group().strip())
    return None
