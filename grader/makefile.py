"""The recipe lines a `make TARGET` command runs, read from the Makefile (never run).

Make hands each recipe line to `sh -c` on its own (no `-e`) and stops when one exits
non-zero, unless the line starts with `-`. So a recipe line is a small script whose
exit status is what counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RULE = re.compile(r"^([^\s:=#][^:=]*?)\s*::?(?!=)\s*([^;#]*)")
NAMES = ("GNUmakefile", "makefile", "Makefile")


@dataclass(frozen=True)
class Recipe:
    """One recipe line: its Makefile line, its shell text, and whether `-` ignores errors."""

    target: str
    line: int
    text: str
    ignored: bool


def targets(words: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """(directory of `-C`, targets) of a `make ...` command; [] means the default goal."""
    directory, names, skip = None, [], False
    for i, word in enumerate(words[1:], 1):
        if skip:
            skip = False
        elif word in ("-C", "--directory"):
            directory, skip = (words[i + 1] if i + 1 < len(words) else None), True
        elif word in ("-f", "--file", "-j", "-l", "-o", "-W"):
            skip = True
        elif not word.startswith("-") and "=" not in word:
            names.append(word)
    return directory, names


def recipes(text: str, wanted: list[str], depth: int = 3) -> list[Recipe]:
    """Recipe lines of the `wanted` targets (the first target if none) and their
    prerequisites that the Makefile defines, in the order make would run them."""
    rules = _rules(text)
    wanted = wanted or list(rules)[:1]
    out: list[Recipe] = []
    seen: set[str] = set()

    def visit(name: str, level: int) -> None:
        if name in seen or name not in rules or level > depth:
            return
        seen.add(name)
        prerequisites, lines = rules[name]
        for prerequisite in prerequisites:
            visit(prerequisite, level + 1)
        out.extend(lines)

    for name in wanted:
        visit(name, 0)
    return out


def _rules(text: str) -> dict[str, tuple[list[str], list[Recipe]]]:
    rules: dict[str, tuple[list[str], list[Recipe]]] = {}
    current: list[str] = []
    lines = text.splitlines()
    n = 0
    while n < len(lines):
        line, start = lines[n], n + 1
        while line.endswith("\\") and n + 1 < len(lines):
            n += 1
            line = line[:-1] + " " + lines[n].lstrip("\t")
        n += 1
        if line.startswith("\t") and current:
            recipe = _recipe(current[0], start, line[1:])
            for target in current:
                rules[target][1].append(recipe)
            continue
        match = RULE.match(line)
        if match and not line.startswith((".", "\t")):
            current = match.group(1).split()
            for target in current:
                rules.setdefault(target, (match.group(2).split(), []))
        elif line.strip() and not line.lstrip().startswith("#"):
            current = []
    return rules


def _recipe(target: str, line: int, text: str) -> Recipe:
    prefix = re.match(r"[@+\-\s]*", text)
    flags = prefix.group() if prefix else ""
    body = text[len(flags) :].replace("$$", "$")
    return Recipe(target, line, body, "-" in flags)
