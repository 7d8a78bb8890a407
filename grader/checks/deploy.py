"""The deployed service: the same contract as the container, at the team's public URL."""

from __future__ import annotations

import dataclasses

from grader.checks import service, servicecontract
from grader.checks.base import Context, NoParams, Outcome, failed, passed


def deployed(ctx: Context, params: NoParams) -> Outcome:
    """The deployed service at `service.url` is healthy and answers every example.

    Calls the health path and replays each manifest example against the URL in
    `capstone.yaml` (`service.url`), as the service checks do against the container.
    Fix: deploy the image (a cloud run service, a VM, a PaaS), put its public https URL
    in `service.url`, and make sure it is up at the deadline.
    """
    manifest = ctx.need_manifest()
    url = manifest.service.url if manifest.service else None
    if not url:
        return failed("no service.url in capstone.yaml: deploy the service and add its URL")
    at_url = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, url=url))
    parts = {
        "health": service.health(at_url, NoParams()),
        "examples": servicecontract.examples(at_url, NoParams()),
    }
    evidence = {"url": url, **{k: {"message": o.message, **o.evidence} for k, o in parts.items()}}
    bad = [f"{k}: {o.message}" for k, o in parts.items() if o.status != "passed"]
    if bad:
        fraction = sum(o.fraction for o in parts.values()) / len(parts)
        return failed(f"{url}: {'; '.join(bad)}", evidence, fraction)
    return passed(f"{url} is healthy and answers every example", evidence)
