"""A dependency environment installed over a cached one whose lock the new lock extends.

Teams of one class change their locks a little: one adds a package. Installing such a lock
from the base image again costs what the first install did (downloads, unpacking, byte
compilation: about half a minute for the template's). When a cached environment (the
seed) was installed by the same setup command, on the same base image, from a lock whose
every pinned package the new lock pins too, at the same version, the new environment is
installed over it: only what is new is fetched and compiled.

The result is what a fresh install gives. In the container, after the setup, `SCRIPT`
compares the requirement lines the seed installed (recorded in it at `RECORD`) with the new
lock's: each must be there with the same version, marker and hashes. If one differs or is
missing (a lock can pin a package that its export leaves out), it exits `MISMATCH` and the
install starts again from the base image. So no file comes into the new environment from a
package that the new lock does not pin itself, and nothing the seed had stays behind.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LABEL = "org.mlops-capstone-kit.env-derive"  # on a cache image that can be a seed
RECORD = "/usr/local/share/grader-env/locked.txt"  # the requirement lines it installed
MISMATCH = 215  # the seed's lines are not all the new lock's: install from the base
MAX_DEPTH = 3  # environments installed over one another, at most (each adds a layer)

# Runs in the container with its Python (standard library only):
#   record <exported>: keep the exported requirement lines as RECORD
#   verify <exported>: exit MISMATCH unless every line of RECORD is in <exported>, then record
SCRIPT = r"""
import pathlib, re, sys

mode, exported, record = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])


def lines(text):
    found = {}
    for line in re.sub(r"\\\r?\n", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        name = re.split(r"[\s=<>!~;@\[]", line, maxsplit=1)[0]
        canonical = re.sub(r"[-_.]+", "-", name).lower()
        found[canonical] = " ".join([canonical, *sorted(line[len(name):].split())])
    return found


new = exported.read_text(encoding="utf-8")
if mode == "verify":
    mine = lines(new)
    seed = lines(record.read_text(encoding="utf-8"))
    other = sorted(name for name, line in seed.items() if mine.get(name) != line)
    if other:
        print("not installed over the cached environment: the lock pins these otherwise:",
              ", ".join(other[:10]), file=sys.stderr)
        sys.exit(MISMATCH)
record.parent.mkdir(parents=True, exist_ok=True)
record.write_text(new, encoding="utf-8")
""".replace("MISMATCH", str(MISMATCH))


@dataclass(frozen=True)
class Lineage:
    """What a seed and the environment installed over it share, and the new lock's pins."""

    setup: str  # the setup command
    base: str  # the base image's id
    pins: frozenset[str]  # `name==version` of every package the lock pins
    exported: str  # where the setup writes the lock's requirement lines, in the container

    @property
    def setup_digest(self) -> str:
        return hashlib.sha256(self.setup.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Seed:
    image: str  # its id
    key: str  # its cache key
    depth: int  # how many environments it was installed over


def label(lineage: Lineage, depth: int) -> str:
    """The label value that makes a cache image a seed for locks that extend its own."""
    text = {
        "setup": lineage.setup_digest,
        "base": lineage.base,
        "depth": depth,
        "pins": sorted(lineage.pins),
    }
    return json.dumps(text, separators=(",", ":"))


def choose(candidates: Iterable[tuple[str, str, Mapping[str, str]]], want: Lineage) -> Seed | None:
    """The seed to install `want` over, among (image id, key, labels): same setup and base,
    every pin of its lock in the new lock, the most pins; None when none fits."""
    best: tuple[int, Seed] | None = None
    for image, key, labels in candidates:
        try:
            data = json.loads(labels.get(LABEL, ""))
            pins, depth = frozenset(data["pins"]), int(data["depth"])
            same = data["setup"] == want.setup_digest and data["base"] == want.base
        except (ValueError, KeyError, TypeError):
            continue
        if not same or depth >= MAX_DEPTH or not pins or not pins <= want.pins:
            continue
        if best is None or len(pins) > best[0]:
            best = (len(pins), Seed(image, key, depth))
    return best[1] if best else None


def command(mode: str, exported: str) -> str:
    """The shell command that records (mode `record`) or checks then records (`verify`)."""
    return f"python -c {shlex.quote(SCRIPT)} {mode} {shlex.quote(exported)} {RECORD}"
