"""A dependency environment installed over a cached one whose lock the new lock extends.

Teams of one class change their locks a little: one adds a package. Installing such a lock
from the base image again costs what the first install did (downloads, unpacking, byte
compilation: about half a minute for the template's). When a cached environment (the
seed) was installed by the same setup command, on the same base image, from a lock whose
every pinned package the new lock pins too, at the same version, the new environment is
installed over it: only what is new is fetched and compiled.

The result is what a fresh install gives. In the container, after the setup, `SCRIPT`
compares the requirement lines the seed installed (recorded in it at `RECORD`) with the new
lock's: each must be there with the same version, marker and hashes. And what is installed
but not from the lock (the base image's packages, the build backend's, what the setup adds
when a lock lacks it, such as pytest) must be what the seed had: a lock that now pins one of
those, for instance, would leave behind what a fresh install never gets. If either differs
(a lock can also pin a package that its export leaves out), it exits `MISMATCH` and the
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
REFUSED = "not installed over the cached environment:"  # how SCRIPT's refusal begins

# Runs in the container with its Python (standard library only), after the setup:
#   record <exported>: keep the exported requirement lines (RECORD) and what is installed
#   verify <exported>: exit MISMATCH unless the environment is what a fresh install gives
#                      (below), then record
SCRIPT = r"""
import pathlib, re, sys
from importlib import metadata

mode, exported, record = sys.argv[1], pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
listing = record.with_name("installed.txt")


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def lines(text):
    found = {}
    for line in re.sub(r"\\\r?\n", " ", text).splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        name = re.split(r"[\s=<>!~;@\[]", line, maxsplit=1)[0]
        found[canonical(name)] = " ".join([canonical(name), *sorted(line[len(name):].split())])
    return found


def installed():
    found = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.add(canonical(name) + "==" + dist.version)
    return found


def unlocked(packages, locked):
    return {p for p in packages if p.split("==")[0] not in locked}


def refuse(why, names):
    print("REFUSED", why + ":", ", ".join(sorted(names)[:10]), file=sys.stderr)
    sys.exit(MISMATCH)


new, now = exported.read_text(encoding="utf-8"), installed()
if mode == "verify":
    mine, seed = lines(new), lines(record.read_text(encoding="utf-8"))
    # Every package the older environment installed from its lock, this lock installs too.
    other = [name for name, line in seed.items() if mine.get(name) != line]
    if other:
        refuse("the lock pins these otherwise", other)
    # What is not from the lock (the base image's, the build backend's, what the setup
    # adds when the lock lacks it) is the older environment's: a fresh install has the same.
    before = unlocked(listing.read_text(encoding="utf-8").split(), seed)
    after = unlocked(now, mine)
    if before != after:
        refuse("these would not be as a fresh install has them", before ^ after)
record.parent.mkdir(parents=True, exist_ok=True)
record.write_text(new, encoding="utf-8")
listing.write_text("\n".join(sorted(now)) + "\n", encoding="utf-8")
""".replace("MISMATCH", str(MISMATCH)).replace("REFUSED", REFUSED)


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
