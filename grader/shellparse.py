"""The parse behind grader.shellscan: a shell script read with bashlex into the commands it
runs (through `sh -c`, `bash -c`, functions, subshells and pipelines) and the ways a
failure is swallowed (`|| true`, `; true`, `set +e`, an exit code thrown away).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from grader.shellmodel import NOT_RUNNERS, Command, Scan, Shell, Swallow, apply_set

_REPLACE = [
    # GitHub substitutes ${{ }} before the shell runs; `[[ ]]` and `$(( ))` are bash that
    # bashlex lacks. Each becomes a plain word of the same length, so positions still hold.
    (re.compile(r"\$\{\{.*?\}\}"), lambda m: "X" * len(m.group())),
    (re.compile(r"\$\(\(.*?\)\)"), lambda m: "0" * len(m.group())),
    (re.compile(r"\[\[ .*? \]\]"), lambda m: "[" + " " * (len(m.group()) - 2) + "]"),
]


def runs(command: Command, is_gate: Callable[[Command], bool]) -> bool:
    return bool(command.words[:1]) and command.words[0] not in NOT_RUNNERS and is_gate(command)


def prepared(script: str) -> str:
    for rx, repl in _REPLACE:
        script = rx.sub(repl, script)
    return script


def _children(node: Any) -> Iterator[Any]:
    for attr in ("parts", "list"):
        yield from getattr(node, attr, None) or []
    inner = getattr(node, "command", None)
    if inner is not None and hasattr(inner, "kind"):
        yield inner


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in _children(node):
        yield from _walk(child)


def _is(node: Any, kind: str, word: str | None = None) -> bool:
    return bool(node.kind == kind and (word is None or getattr(node, "word", None) == word))


class _Exit(Exception):
    def __init__(self, failed: bool) -> None:
        self.failed = failed


@dataclass
class _Run:
    """One scenario: only `target` fails. Notes why its failure got lost, if it does."""

    target: Any
    errexit: bool
    pipefail: bool
    off: str
    off_line: int = 0
    hit: bool = False
    last: bool = False
    reason: tuple[int, str] | None = None
    pending: tuple[int, str] | None = None
    ignoring: int = 0  # > 0 where `set -e` does not apply (conditions, `&&` lists, `!`)
    soft: bool = False  # the last failure happened where `set -e` did not apply
    calling: set[str] = field(default_factory=set)

    def swallow(self, line: int, what: str) -> None:
        if self.hit and self.reason is None:
            self.reason = (line, what)


class Parsed:
    def __init__(self, source: str, nodes: list[Any], is_gate: Callable[[Command], bool]):
        self.source, self.nodes = source, nodes
        self.commands = [n for top in nodes for n in _walk(top) if n.kind == "command"]
        self.gates = [n for n in self.commands if runs(self.command(n), is_gate)]
        self.functions = {
            n.parts[0].word: n.parts[-1]
            for top in nodes
            for n in _walk(top)
            if n.kind == "function"
        }

    def scan(self, shell: Shell) -> Scan:
        swallows = []
        for gate in self.gates:
            found = self.outcome(gate, shell)
            if found is not None:
                swallows.append(Swallow(found[0], found[1], self.text(*gate.pos)))
        return Scan(tuple(self.command(g) for g in self.gates), tuple(swallows))

    # -- text and positions

    def line(self, node: Any) -> int:
        return self.source.count("\n", 0, node.pos[0]) + 1

    def text(self, start: int, end: int, limit: int = 60) -> str:
        text = " ".join(self.source[start:end].replace("\\\n", " ").split())
        return text if len(text) <= limit else text[: limit - 3] + "..."

    def command(self, node: Any) -> Command:
        start, end = node.pos
        chars = list(self.source[start:end])
        for sub in _walk(node):
            if sub is not node and sub.kind in ("commandsubstitution", "processsubstitution"):
                for i in range(sub.pos[0] - start, sub.pos[1] - start):
                    chars[i] = " "
        words = tuple(p.word for p in node.parts if p.kind in ("word", "assignment"))
        text = "".join(chars).replace("\\\n", " ")
        return Command(self.line(node), words, " ".join(text.split()))

    def contains(self, node: Any, target: Any) -> bool:
        return any(n is target for n in _walk(node))

    # -- one scenario

    def outcome(self, gate: Any, shell: Shell) -> tuple[int, str] | None:
        off = "" if shell.errexit else f"the shell `{shell.how}` (no -e)"
        run = _Run(gate, shell.errexit, shell.pipefail, off)
        try:
            failed = self.block(self.nodes, run)
        except _Exit as exc:
            failed = exc.failed
        if failed or not run.hit:
            return None
        return run.reason or run.pending or (self.line(gate), "the rest of the script")

    def block(self, nodes: list[Any], run: _Run) -> bool:
        statements = list(self.statements(nodes))
        failed = run.last
        for i, (parts, background) in enumerate(statements):
            failed, exempt = self.and_or(parts, run)
            if background and failed:
                run.swallow(self.line(parts[0]), "`&` (runs it in the background)")
                failed = False
            run.last, run.soft = failed, failed and (exempt or run.ignoring > 0)
            if failed and run.errexit and not run.soft:
                raise _Exit(True)
            if failed and run.hit and i + 1 < len(statements):
                if self.checks_status(statements[i + 1][0]):
                    raise _Exit(True)  # the script looks at $? itself: trust what it does
                run.pending = run.pending or self.went_on(parts, run)
        return failed

    def went_on(self, parts: list[Any], run: _Run) -> tuple[int, str]:
        line = self.line(parts[0])
        if not run.errexit:
            return run.off_line or line, f"{run.off} with no check of `$?`"
        text = self.text(parts[0].pos[0], parts[-1].pos[1])
        return line, f"`{text}` (exempt from `set -e` in a `&&`/`||` list)"

    def statements(self, nodes: list[Any]) -> Iterator[tuple[list[Any], bool]]:
        for node in nodes:
            if node.kind != "list":
                yield [node], False
                continue
            current: list[Any] = []
            for part in node.parts:
                if part.kind == "operator" and part.op in (";", "&", "\n"):
                    if current:
                        yield current, part.op == "&"
                    current = []
                else:
                    current.append(part)
            if current:
                yield current, False

    def checks_status(self, parts: list[Any]) -> bool:
        """The statement reads `$?` (or PIPESTATUS) other than to print it."""
        reads = any(
            n.kind == "parameter" and (n.value == "?" or n.value.startswith("PIPESTATUS"))
            for part in parts
            for n in _walk(part)
        )
        words = self.command(parts[0]).words if parts[0].kind == "command" else ()
        return reads and not (len(parts) == 1 and words[:1] in (("echo",), ("printf",)))

    def and_or(self, parts: list[Any], run: _Run) -> tuple[bool, bool]:
        """Status of `a && b || c`, and whether `set -e` ignores it.

        `set -e` is ignored in every part but the last; a compound command (not a
        subshell) whose own last command failed while it was ignored is exempt too.
        """
        failed = run.last = self.guarded(parts[0], run, len(parts) > 1)
        ran_last, soft = len(parts) == 1, run.soft
        for i in range(1, len(parts), 2):
            op, node = parts[i].op, parts[i + 1]
            if (op == "&&") == failed:
                ran_last = False
                continue
            before, last = failed, i + 2 == len(parts)
            failed = (
                self.rescue(node, run, not last)
                if op == "||"
                else self.guarded(node, run, not last)
            )
            run.last, ran_last, soft = failed, last, run.soft
            if before and not failed:
                text = self.text(parts[i].pos[0], node.pos[1])
                run.swallow(self.line(parts[i]), f"`{text}`")
        node = parts[-1] if ran_last else None
        compound = node is not None and node.kind == "compound" and not self.subshelled(node)
        return failed, not ran_last or self.negated(parts[-1]) or (compound and soft)

    def guarded(self, node: Any, run: _Run, ignore: bool) -> bool:
        """`node`'s status; with `ignore`, `set -e` does not apply inside it."""
        run.soft = False
        run.ignoring += ignore
        try:
            return self.node(node, run)
        finally:
            run.ignoring -= ignore

    def negated(self, node: Any) -> bool:
        return bool(node.kind == "pipeline" and _is(node.parts[0], "reservedword", "!"))

    def subshelled(self, node: Any) -> bool:
        return _is(node.list[0], "reservedword", "(")

    def rescue(self, node: Any, run: _Run, ignore: bool) -> bool:
        """`|| node`: a retry of a gate, an `exit 1`, a look at `$?` keep the failure."""
        gates = {id(g) for g in self.gates}
        others = any(id(n) in gates for n in _walk(node)) and not self.contains(node, run.target)
        if others or self.checks_status([node]):
            return True
        return self.guarded(node, run, ignore)

    def node(self, node: Any, run: _Run) -> bool:
        kind = node.kind
        if kind == "command":
            return self.simple(node, run)
        if kind == "pipeline":
            return self.pipeline(node, run)
        if kind == "list":
            return self.block([node], run)
        if kind == "compound":
            return self.compound(node, run)
        return False

    def simple(self, node: Any, run: _Run) -> bool:
        if node is run.target:
            run.hit = True
            return True
        words = self.command(node).words
        name = words[0] if words else ""
        if name in ("exit", "return"):
            return self.exit(node, words, run)
        if name == "set":
            self.set(node, words, run)
            return False
        body = self.functions.get(name) if name not in run.calling else None
        if body is not None and self.contains(body, run.target):
            run.calling.add(name)  # a function that calls itself is followed once
            return self.subshell([body], run)
        if self.contains(node, run.target):  # inside $( ): the word takes its output
            self.node(next(n for n in _walk(node) if n is run.target), run)
            if all(p.kind == "assignment" for p in node.parts if p.kind != "redirect"):
                return True
            text = self.text(*node.pos)
            run.swallow(self.line(node), f"`{text}` (drops the status of `$( )`)")
            return False
        return name == "false"

    def exit(self, node: Any, words: tuple[str, ...], run: _Run) -> bool:
        if len(words) == 1:
            raise _Exit(run.last)
        if words[1] == "0":
            run.swallow(self.line(node), f"`{words[0]} 0`")
            raise _Exit(False)
        raise _Exit(True)

    def set(self, node: Any, words: tuple[str, ...], run: _Run) -> None:
        was = run.errexit
        run.errexit, run.pipefail = apply_set(words[1:], run.errexit, run.pipefail)
        if was and not run.errexit:
            run.off, run.off_line = f"`{self.command(node).text}`", self.line(node)

    def pipeline(self, node: Any, run: _Run) -> bool:
        parts = [p for p in node.parts if p.kind != "pipe"]
        negated = _is(parts[0], "reservedword", "!")
        commands = parts[1:] if negated else parts
        run.ignoring += negated  # `set -e` does not apply in a `!` pipeline
        try:
            statuses = [
                self.subshell([c], run) if commands[1:] else self.node(c, run) for c in commands
            ]
        finally:
            run.ignoring -= negated
        failed = statuses[-1] or (run.pipefail and any(statuses))
        if any(statuses[:-1]) and not failed:
            tail = self.text(commands[-2].pos[1], commands[-1].pos[1])
            run.swallow(self.line(node), f"`{tail}` without `set -o pipefail`")
        if negated and failed:
            run.swallow(self.line(node), f"`{self.text(*node.pos)}` (`!` inverts the status)")
        return failed != negated

    def compound(self, node: Any, run: _Run) -> bool:
        inner = [p for p in node.list if p.kind != "reservedword"]
        if _is(node.list[0], "reservedword", "("):
            return self.subshell(inner, run)
        for part in inner:
            if part.kind == "if":
                return self.if_(part, run)
            if part.kind in ("for", "while", "until"):
                return self.loop(part, run)
        return self.block(inner, run)

    def subshell(self, nodes: list[Any], run: _Run) -> bool:
        saved = (run.errexit, run.pipefail, run.off, run.off_line)
        try:
            return self.block(nodes, run)
        except _Exit as exc:
            return exc.failed
        finally:
            run.errexit, run.pipefail, run.off, run.off_line = saved

    def condition(self, node: Any, run: _Run) -> bool:
        run.ignoring += 1
        try:
            return self.block([node], run)
        finally:
            run.ignoring -= 1

    def if_(self, node: Any, run: _Run) -> bool:
        clauses, orelse, parts = [], None, node.parts
        for i, part in enumerate(parts[:-1]):
            if _is(part, "reservedword") and part.word in ("if", "elif"):
                clauses.append((parts[i + 1], parts[i + 3]))
            elif _is(part, "reservedword", "else"):
                orelse = parts[i + 1]
        for cond, body in clauses:
            if not self.condition(cond, run):
                return self.block([body], run)
            if self.contains(cond, run.target):
                where = self.text(node.pos[0], cond.pos[1]).rstrip(";")
                run.swallow(self.line(node), f"`{where}` (its failure only picks a branch)")
        return self.block([orelse], run) if orelse is not None else False

    def loop(self, node: Any, run: _Run) -> bool:
        parts = node.parts
        body = parts[next(i for i, p in enumerate(parts) if _is(p, "reservedword", "do")) + 1]
        cond = parts[1]
        if node.kind != "for" and self.condition(cond, run) == (node.kind == "while"):
            if self.contains(cond, run.target):
                where = self.text(node.pos[0], cond.pos[1]).rstrip(";")
                run.swallow(self.line(node), f"`{where}` (its failure ends the loop)")
            return False
        return self.block([body], run)
