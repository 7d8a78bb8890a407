"""Credentials assigned in configuration files, and the files third-party packages ship.

detect-secrets recognises keys by their shape (AWS, GitHub, private keys). A password
has no shape: `database_password = "hunter2"` in a `.tfvars` file is only a secret
because of the name it is assigned to. This module reads the assignment forms of each
common configuration format (Terraform, YAML, TOML, INI, JSON, `.properties`, env files,
the code cells and outputs of notebooks) and reports those whose key names a credential
and whose value is a literal, not a placeholder or a reference to where the secret lives.

A finding carries the line, the key and the kind of credential, never the value: the
value must not reach any report, log or evidence.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath

# Directories whose files come from installed packages, never from the team.
THIRD_PARTY_DIRS = frozenset(
    {
        "site-packages",
        "dist-packages",
        "node_modules",
        "bower_components",
        ".venv",
        "venv",
        "virtualenv",
        "__pypackages__",
        ".tox",
        ".nox",
        ".eggs",
    }
)
THIRD_PARTY_SUFFIXES = (".whl", ".egg")
# Files that hold the names of settings with example values, by convention.
TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".tpl", ".dist")


def is_third_party(path: str, venvs: frozenset[str] = frozenset()) -> bool:
    """A file shipped by an installed package (a path, `/`-separated, relative or not).

    `venvs` are directories known to hold a `pyvenv.cfg`: virtual environments under
    any name (`env/`, `.python/`).
    """
    pure = PurePosixPath(path)
    if pure.name.endswith(THIRD_PARTY_SUFFIXES):
        return True
    parents = [str(p) for p in pure.parents]
    return bool(THIRD_PARTY_DIRS.intersection(pure.parts[:-1]) or venvs.intersection(parents))


@dataclass(frozen=True)
class Assignment:
    """A credential assigned a literal value: where, to which key, of what kind."""

    line: int
    key: str
    kind: str
    # A digest of the value, to tell one secret from another across file versions.
    fingerprint: str = field(default="", repr=False, compare=False)


# --- which keys name a credential -------------------------------------------------------

_STRONG = {"password", "passwd", "passphrase", "secret", "token", "apikey", "credentials"}
_STRONG |= {"credential", "secretkey", "accesskey", "privatekey", "authtoken", "clientsecret"}
_PAIRS = {("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key")}
# Words that are credentials only next to another word: DB_PASS, SMTP_PWD, BASIC_AUTH
# (a bare PWD is the working directory, a bare `auth:` usually names a method).
_WEAK = {"pass", "pwd", "auth"}
# A last word that makes the key about the credential, not the credential itself.
_NOT_SECRET_TAIL = {
    *("url", "uri", "urls", "endpoint", "host", "port", "file", "files", "path", "dir"),
    *("name", "names", "id", "ids", "type", "method", "mode", "header", "length", "len"),
    *("size", "count", "limit", "enabled", "enable", "disabled", "required", "env", "var"),
    *("field", "policy", "ttl", "expiry", "expires", "expiration", "timeout", "user"),
    *("username", "prefix", "suffix", "format", "provider", "scheme", "version", "ref"),
    *("arn", "location", "regex", "pattern", "min", "max", "rotation", "hint", "label"),
    *("description", "help", "prompt", "source", "manager", "class", "module", "store"),
    *("backend", "kind", "algorithm", "encoding", "lifetime", "age", "seconds", "hash"),
    *("minutes", "hours", "days", "validation", "strategy", "limits", "number", "filename"),
    *("filepath", "dirname", "scope", "owner", "error", "failure", "denied", "exists", "status"),
}
# A first word that makes the key a count: max_tokens, num_token.
_COUNT_HEAD = {"max", "min", "num", "n", "total", "count"}
# Tokenizer settings (pad_token: "[PAD]") are vocabulary, not credentials.
_TOKENIZER = {"pad", "eos", "bos", "unk", "sep", "cls", "mask", "start", "end", "special"}

_KINDS: tuple[tuple[str, Callable[[list[str], str], bool]], ...] = (
    ("Private key", lambda w, j: "privatekey" in j),
    ("Access key", lambda w, j: "accesskey" in j),
    ("API key", lambda w, j: "apikey" in j),
    ("Password", lambda w, j: any(x in w for x in ("pass", "pwd", "passphrase")) or "passw" in j),
    ("Token", lambda w, j: any(x.endswith("token") for x in w)),
    ("Secret", lambda w, j: any(x.endswith("secret") or x == "secretkey" for x in w)),
    ("Credentials", lambda w, j: any(x.startswith("credential") for x in w)),
)


def words(key: str) -> list[str]:
    """`dbPassword`, `DB_PASSWORD`, `db.password` and `db-password` -> [db, password]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def credential_kind(key: str) -> str | None:
    """The kind of credential `key` names (`Password`, `Token`...), or None."""
    parts = words(key)
    if not parts or parts[-1] in _NOT_SECRET_TAIL or parts[0] in _COUNT_HEAD:
        return None
    qualifiers = ("api", "access", "private", "auth", "secret", "client")
    if parts[-1] == "key" and not any(p.endswith(qualifiers) for p in parts[:-1]):
        return None  # ssh_key, s3_key, sort_key: a key of something else
    if "token" in parts and _TOKENIZER.intersection(parts):
        return None
    strong = any(
        p in _STRONG or p.endswith(("password", "passwd", "secret", "token")) for p in parts
    )
    pair = any(pair in _PAIRS for pair in itertools.pairwise(parts))
    weak = (len(parts) > 1 and parts[-1] in _WEAK) or parts == ["auth"]
    if not (strong or pair or weak):
        return None
    joined = "".join(parts)
    for kind, test in _KINDS:
        if test(parts, joined):
            return kind
    return "Auth"


# --- which values are literals ----------------------------------------------------------

_PLACEHOLDER_WORDS = {
    *("changeme", "changeit", "password", "passwd", "secret", "token", "example", "none"),
    *("placeholder", "dummy", "redacted", "todo", "fixme", "replaceme", "null", "nil"),
    *("undefined", "true", "false", "yes", "no", "on", "off", "tbd", "empty", "notset"),
    *("unset", "secretkey", "apikey", "mypassword", "yourpassword", "yourtoken", "required"),
    *("disabled", "enabled", "optional", "default", "files"),
}
_REFERENCE = re.compile(
    r"^(var|local|data|module|each|self|secrets|env|vars|inputs|steps)\.[\w.\[\]\"'-]+$"
    r"|environ|getenv|process\.env|\bENC\[|^vault:|^arn:aws:secretsmanager|^projects/.+/secrets/",
    re.IGNORECASE,
)


def is_literal(value: str) -> bool:
    """A value that is the secret itself (not empty, masked, a placeholder or a reference)."""
    value = value.strip()
    plain = re.sub(r"[^a-z0-9]", "", value.lower())
    if len(value) < 4 or len(plain) < 3 or value[0] in "$<[{":
        return False
    if re.fullmatch(r"[+-]?\d+(\.\d+)?", value) and len(value) <= 6:
        return False  # a count or a port, not a password
    if "{{" in value or "{%" in value or "%(" in value or "${" in value:
        return False
    if set(value) <= set("*xX•#.-_ ") or _REFERENCE.search(value):
        return False
    if re.fullmatch(r"[/~.]{1,2}/?[\w./-]*", value):  # a file path, not the secret
        return False
    if plain in _PLACEHOLDER_WORDS or re.fullmatch(r"x{3,}|(.)\1{3,}", plain):
        return False
    lowered = value.lower()
    if any(w in lowered for w in ("example", "placeholder", "changeme", "replace", "your", "xxx")):
        return False
    return not lowered.startswith(("my-", "my_", "insert", "enter", "put-", "put_", "fill"))


# --- the assignment forms of each format ------------------------------------------------

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


def _names_a_setting(key: str, value: str) -> bool:
    """`ACCESS_TOKEN_FAILURE = "ACCESS_TOKEN_FAILURE"`, `token: API_TOKEN`: names, not secrets."""
    if set(words(value)) <= set(words(key)):
        return True
    return bool(re.fullmatch(r"[A-Z][A-Z0-9_]*", value)) and credential_kind(value) is not None


def scan(path: str, text: str) -> list[Assignment]:
    """Credentials assigned literal values in `text`, read as the format `path` names."""
    fmt = file_format(path)
    if fmt is None:
        return []
    found: dict[tuple[int, str], Assignment] = {}
    for number, key, value in READERS[fmt](text):
        kind = credential_kind(key)
        if kind == "Auth" and words(key) == ["auth"] and not re.fullmatch(r"\S{12,}", value):
            continue  # `auth: basic` names a method; docker's `"auth": "dXNlcjpw..."` is one
        if kind and is_literal(value) and not _names_a_setting(key, value):
            digest = hashlib.sha256(value.encode()).hexdigest()[:16]
            found.setdefault((number, key), Assignment(number, key, kind, digest))
    return sorted(found.values(), key=lambda a: (a.line, a.key))
