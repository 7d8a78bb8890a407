"""The repository as inference sees it: its committed files, read as text, never run.

In a git repository only the files of its HEAD commit count (what a grade sees); elsewhere
every file under the folder. Links are never followed, and files over a size limit are never read.
"""

from __future__ import annotations

import fnmatch
import subprocess
from pathlib import Path, PurePosixPath

MAX_BYTES = 512 * 1024
SKIP_DIRS = {".git", ".venv", "venv", "env", "node_modules", "site-packages", "__pycache__"}


class RepoFiles:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.paths = _tracked(root)
        self._set = set(self.paths)
        self._texts: dict[str, str | None] = {}

    def exists(self, rel: str) -> bool:
        rel = rel.removeprefix("./").rstrip("/")
        return rel in self._set or any(p.startswith(rel + "/") for p in self.paths)

    def is_dir(self, rel: str) -> bool:
        rel = rel.removeprefix("./").rstrip("/")
        return any(p.startswith(rel + "/") for p in self.paths)

    def text(self, rel: str) -> str | None:
        if rel not in self._texts:
            self._texts[rel] = self._read(rel)
        return self._texts[rel]

    def _read(self, rel: str) -> str | None:
        path = self.root / rel
        if path.is_symlink() or not path.is_file():
            return None
        try:
            if path.stat().st_size > MAX_BYTES:
                return None
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None

    def glob(self, *patterns: str) -> list[str]:
        """Paths whose file name (or whole path, for a pattern with /) matches a pattern."""
        out = []
        for rel in self.paths:
            name = PurePosixPath(rel).name
            for pattern in patterns:
                subject = rel if "/" in pattern else name
                if fnmatch.fnmatch(subject.lower(), pattern.lower()):
                    out.append(rel)
                    break
        return out

    def python_files(self) -> list[str]:
        return [p for p in self.paths if p.endswith(".py")]

    def dockerfiles(self) -> list[str]:
        found = self.glob("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile")
        return sorted(found, key=lambda p: (p.count("/"), p))

    def compose_files(self) -> list[str]:
        return self.glob(
            "compose.yaml", "compose.yml", "docker-compose*.yml", "docker-compose*.yaml"
        )

    def workflows(self) -> list[str]:
        return [
            p
            for p in self.paths
            if p.startswith(".github/workflows/") and p.endswith((".yml", ".yaml"))
        ]

    def build_scripts(self) -> list[str]:
        """Files that may run `docker build` or the tests: workflows, Makefiles, shell scripts."""
        return [*self.workflows(), *self.glob("Makefile", "makefile", "*.mk", "*.sh", "justfile")]


def _tracked(root: Path) -> list[str]:
    if (root / ".git").exists():
        try:
            done = subprocess.run(
                ["git", "-C", str(root), "ls-tree", "-r", "-z", "--name-only", "HEAD"],
                capture_output=True,
                check=True,
                timeout=60,
            )
        except (OSError, subprocess.SubprocessError):
            pass
        else:
            listed = [p for p in done.stdout.decode(errors="replace").split("\0") if p]
            return sorted(p for p in listed if not _skipped(p))
    out = []
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if not _skipped(rel) and path.is_file() and not path.is_symlink():
            out.append(rel)
    return sorted(out)


def _skipped(rel: str) -> bool:
    return any(part in SKIP_DIRS for part in rel.split("/")[:-1])
