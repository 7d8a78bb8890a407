"""The stages of a Dockerfile: the image each starts FROM, as the builder resolves it.

Only FROM and the ARGs before the first FROM matter here (those are the only ARGs a FROM
line may use; a build arg overrides their default). Lines continued with a backslash are
joined first; comments and other instructions are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    image: str  # what FROM names, ARGs resolved ("" when the line names nothing)
    name: str | None  # its `AS` name, lower-cased
    base: str  # the image it starts from in the end (an earlier stage's, followed)
    from_stage: bool  # FROM names an earlier stage, not an image


def stages(text: str, buildargs: Mapping[str, str] | None = None) -> list[Stage]:
    args: dict[str, str] = {}
    named: dict[str, str] = {}  # stage name -> its base
    found: list[Stage] = []
    for line in re.sub(r"\\\r?\n", " ", text).splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        instruction = words[0].upper()
        if instruction == "ARG" and not found and len(words) > 1:
            name, _, value = words[1].partition("=")
            args[name] = (buildargs or {}).get(name, value.strip("\"'"))
        elif instruction == "FROM":
            rest = [w for w in words[1:] if not w.startswith("--")]
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], ""), rest[0]) if rest else ""
            stage = rest[2].lower() if len(rest) >= 3 and rest[1].lower() == "as" else None
            earlier = image.lower() in named
            found.append(Stage(image, stage, named.get(image.lower(), image), earlier))
            if stage:
                named[stage] = found[-1].base
    return found


def final_base(text: str) -> str | None:
    """The image the last stage starts from, through earlier stages (None: no stage)."""
    found = stages(text)
    return (found[-1].base or None) if found else None


def from_images(text: str, buildargs: Mapping[str, str] | None = None) -> list[str]:
    """The images the stages start from (not earlier stages), in order, each once."""
    images: list[str] = []
    for stage in stages(text, buildargs):
        if stage.image and not stage.from_stage and stage.image not in images:
            images.append(stage.image)
    return images
