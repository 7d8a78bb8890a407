"""Where a credential can be assigned in each kind of file the secret scan reads: .env and INI
files, TOML, YAML, JSON, HCL (Terraform), source code, notebooks, .netrc and .npmrc, each
read for its `name = value` pairs with their line numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath

Candidate = tuple[int, str, str]  # (line, key, value)


KEY = r"[A-Za-z_][\w.\-]*"


QUOTED = r"(?P<q>[\"'])(?P<value>(?:\\.|(?!(?P=q)).)*)(?P=q)"


def _unquote(raw: str, comment: str = "#") -> str | None:
    """An unquoted or quoted scalar; None when it is not a plain scalar."""
    raw = raw.strip()
    if raw[:1] and raw[0] in comment:
        return ""
    if raw and raw[0] in "\"'":
        end = raw.find(raw[0], 1)
        return raw[1:end] if end > 0 else None
    for marker in comment:
        cut = re.search(rf"\s{re.escape(marker)}", raw)
        raw = raw[: cut.start()] if cut else raw
    return raw.strip()


def _env(text: str) -> Iterator[Candidate]:
    pattern = re.compile(rf"^\s*(?:export\s+)?(?P<key>{KEY})\s*=\s*(?P<raw>.*)$")
    for number, line in enumerate(text.splitlines(), 1):
        if (m := pattern.match(line)) and (value := _unquote(m["raw"])) is not None:
            yield number, m["key"], value


def _ini(text: str) -> Iterator[Candidate]:
    pattern = re.compile(rf"^\s*(?P<key>{KEY})\s*[=:]\s*(?P<raw>.*)$")
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith(("#", ";", "!", "[")):
            continue
        if (m := pattern.match(line)) and (value := _unquote(m["raw"], "#;")) is not None:
            yield number, m["key"], value


def _toml(text: str) -> Iterator[Candidate]:
    pattern = re.compile(rf"^\s*[\"']?(?P<key>{KEY})[\"']?\s*=\s*{QUOTED}")
    for number, line in enumerate(text.splitlines(), 1):
        if m := pattern.match(line):
            yield number, m["key"], m["value"]


def _yaml(text: str) -> Iterator[Candidate]:
    mapping = re.compile(rf"^\s*(?:-\s+)?[\"']?(?P<key>{KEY})[\"']?\s*:(?:\s+(?P<raw>.*))?$")
    listed = re.compile(rf"^\s*-\s+[\"']?(?P<key>{KEY})=(?P<raw>[^\"']*)[\"']?\s*$")
    for number, line in enumerate(text.splitlines(), 1):
        m = listed.match(line) or mapping.match(line)
        if not m or (m["raw"] or "").strip()[:1] in ("", *"!*&|>{[#"):
            continue  # a tag, alias, anchor, block scalar, collection or nothing
        if (value := _unquote(m["raw"])) is not None:
            yield number, m["key"], value


def _json(text: str) -> Iterator[Candidate]:
    pattern = re.compile(rf"\"(?P<key>{KEY})\"\s*:\s*{QUOTED}")
    for number, line in enumerate(text.splitlines(), 1):
        for m in pattern.finditer(line):
            yield number, m["key"], m["value"]


def _hcl(text: str) -> Iterator[Candidate]:
    """`key = "literal"` anywhere, and `default = "literal"` of a credential variable."""
    pattern = re.compile(rf"(?<![\w.\-\"])(?P<key>{KEY})\s*=\s*{QUOTED}")
    block = re.compile(r"^\s*variable\s+\"(?P<name>[^\"]+)\"")
    variable, depth, opened = "", 0, False
    for number, line in enumerate(text.splitlines(), 1):
        if m := block.match(line):
            variable, depth, opened = m["name"], 0, False
        for m in pattern.finditer(line):
            yield number, variable if variable and m["key"] == "default" else m["key"], m["value"]
        if variable:
            depth += line.count("{") - line.count("}")
            opened = opened or "{" in line
            variable = "" if opened and depth <= 0 else variable


_CODE_FORMS = (
    # password = "x", self.password = "x", connect(password="x"), token: str = "x"
    re.compile(rf"(?<![\w\"'])(?P<key>[A-Za-z_]\w*)\s*(?::\s*[\w\[\]., |]+)?=(?!=)\s*{QUOTED}"),
    # {"password": "x"}, config["password"] = "x", os.environ["TOKEN"] = "x"
    re.compile(rf"[\"'](?P<key>{KEY})[\"']\s*\]?\s*[:=](?!=)\s*{QUOTED}"),
    # os.getenv("TOKEN", "x"), os.environ.setdefault("TOKEN", "x")
    re.compile(rf"(?:getenv|get|setdefault)\(\s*[\"'](?P<key>{KEY})[\"']\s*,\s*{QUOTED}"),
)


_MAGIC = re.compile(rf"^\s*[%!](?:env|export|set)\s+(?P<key>{KEY})[= ]\s*(?P<raw>\S.*)$")


def _code_line(line: str) -> Iterator[tuple[str, str]]:
    if (m := _MAGIC.match(line)) and (value := _unquote(m["raw"])) is not None:
        yield m["key"], value
    for form in _CODE_FORMS:
        for m in form.finditer(line):
            yield m["key"], m["value"]


def _code(text: str) -> Iterator[Candidate]:
    for number, line in enumerate(text.splitlines(), 1):
        for key, value in _code_line(line):
            yield number, key, value


def _notebook(text: str) -> Iterator[Candidate]:
    """Code cells and their text outputs, each line found back in the .ipynb file."""
    try:
        notebook = json.loads(text)
    except ValueError:
        return
    raw = text.splitlines()
    position = 0
    for piece in _notebook_pieces(notebook):
        number = _locate(raw, position, piece)
        position = number - 1 if number else position
        for key, value in _code_line(piece):
            yield number or 1, key, value


def _notebook_pieces(notebook: object) -> Iterator[str]:
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        texts = [cell.get("source")]
        for output in cell.get("outputs") or []:
            if isinstance(output, dict):
                data = output.get("data")
                plain = data.get("text/plain") if isinstance(data, dict) else None
                texts += [output.get("text"), plain]
        for item in texts:
            joined = "".join(item) if isinstance(item, list) else item
            if isinstance(joined, str):
                yield from (line for line in joined.splitlines() if line.strip())


def _locate(raw: list[str], start: int, piece: str) -> int | None:
    """1-based line of the file (from `start`) holding `piece` as a JSON string."""
    forms = {json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1]}
    for index in range(start, len(raw)):
        if any(form in raw[index] for form in forms):
            return index + 1
    return None


def _netrc(text: str) -> Iterator[Candidate]:
    """`machine host login me password VALUE`, on one line or many."""
    pattern = re.compile(r"(?:^|\s)(?P<key>password|passwd)\s+(?P<value>\S+)")
    for number, line in enumerate(text.splitlines(), 1):
        for m in pattern.finditer(line):
            yield number, m["key"], m["value"]


def _npmrc(text: str) -> Iterator[Candidate]:
    """`//registry.npmjs.org/:_authToken=VALUE`: an INI line under a registry prefix."""
    return _ini("\n".join(re.sub(r"^(\s*)//\S*?:(?=_)", r"\1", line) for line in text.splitlines()))


Reader = Callable[[str], Iterator[Candidate]]


# Credential files known by name: netrc, pip, npm, AWS, DVC's local remote settings.
_NAME_FORMAT = {
    ".netrc": "netrc",
    "_netrc": "netrc",
    ".pypirc": "ini",
    ".npmrc": "npmrc",
    "credentials": "ini",
    "config.local": "ini",
}


_SUFFIX_FORMAT = {
    ".tfvars": "hcl",
    ".tf": "hcl",
    ".hcl": "hcl",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
    ".cnf": "ini",
    ".properties": "properties",
    ".json": "json",
    ".ipynb": "notebook",
    ".env": "env",
    ".py": "code",
}


def file_format(path: str) -> str | None:
    """The format a file is read as, from its name; None for files not read at all."""
    name = PurePosixPath(path).name
    if name.endswith(TEMPLATE_SUFFIXES):
        return None
    if name == ".env" or name.startswith(".env."):
        return "env"
    if name.endswith(".tfvars.json"):
        return "json"
    if name in _NAME_FORMAT:
        return _NAME_FORMAT[name]
    if name == "config" and PurePosixPath(path).parent.name == ".dvc":
        return "ini"
    return _SUFFIX_FORMAT.get(PurePosixPath(name).suffix.lower())


# Files that hold the names of settings with example values, by convention.
TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".tpl", ".dist")

READERS: dict[str, Reader] = {
    "env": _env,
    "ini": _ini,
    "properties": _ini,
    "toml": _toml,
    "yaml": _yaml,
    "json": _json,
    "hcl": _hcl,
    "notebook": _notebook,
    "code": _code,
    "netrc": _netrc,
    "npmrc": _npmrc,
}
