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
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from grader.secretformats import READERS, file_format

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
