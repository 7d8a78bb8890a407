"""Start the service with uvicorn: `python -m {{ cookiecutter.package_name }}.serve` (HOST and PORT from the env)."""

from __future__ import annotations

import os

import uvicorn


def main() -> None:
    uvicorn.run(
        "{{ cookiecutter.package_name }}.api:app",
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        access_log=False,  # the app writes one JSON line per request instead
    )


if __name__ == "__main__":  # pragma: no cover
    main()
