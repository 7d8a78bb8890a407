"""Refresh the template's uv.lock after a change to its pyproject.toml.

The lock pins every package a generated repository installs (`make setup`, the Docker
image, CI). It is written once for every team: it resolves for Python 3.11 and up, so both
`python_version` choices share it, and the project's own name in it is the template's
`project_slug` (normalized as uv writes it). This bakes a repository, runs `uv lock` there
starting from the current lock (so only what the change needs moves), and writes the result
back as the template's lock.

    python scripts/lock_template.py [--upgrade]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

KIT = Path(__file__).resolve().parent.parent
TEMPLATE_LOCK = KIT / "{{cookiecutter.project_slug}}" / "uv.lock"
SLUG = "kit-template-lock"
NAME = "{{ cookiecutter.project_slug | replace('_', '-') }}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="Move every unpinned package.")
    args = parser.parse_args(argv)
    from cookiecutter.main import cookiecutter

    from grader.sandboxtools import uv_binary

    uv = uv_binary()
    if uv is None:
        raise SystemExit("uv is not installed (pip install uv)")

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(
            cookiecutter(
                str(KIT), no_input=True, output_dir=tmp, extra_context={"project_slug": SLUG}
            )
        )
        lock = repo / "uv.lock"
        command = [str(uv), "lock", *(["--upgrade"] if args.upgrade else [])]
        subprocess.run(command, cwd=repo, check=True)
        text = lock.read_text(encoding="utf-8")
    if f'name = "{SLUG}"' not in text or "{{" in text.replace(SLUG, ""):
        raise SystemExit(f"unexpected lock: no project named {SLUG}, or template markup in it")
    TEMPLATE_LOCK.write_text(text.replace(SLUG, NAME), encoding="utf-8")
    print(f"wrote {TEMPLATE_LOCK.relative_to(KIT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
