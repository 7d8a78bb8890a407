"""JUnit XML, for CI systems that show test reports (one testcase per check)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from grader.reports.files import write_atomic
from grader.results import GradeResult


def junit_xml(result: GradeResult) -> str:
    counts = {s: sum(r.status == s for r in result.checks) for s in ("failed", "error")}
    suite = ET.Element(
        "testsuite",
        name=f"grader.{result.milestone}",
        tests=str(len(result.checks)),
        failures=str(counts["failed"] + sum(r.status == "blocked" for r in result.checks)),
        errors=str(counts["error"]),
        skipped=str(sum(r.status == "skipped" for r in result.checks)),
        time=f"{result.execution_time:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("commit", result.commit),
        ("score", result.score),
        ("max_score", result.max_score),
    ):
        ET.SubElement(props, "property", name=name, value=str(value))
    for r in result.checks:
        case = ET.SubElement(
            suite, "testcase", classname=r.check.split(".")[0], name=r.id, time=f"{r.duration:.3f}"
        )
        text = f"{r.score:g}/{r.max_score:g} {r.message}"
        if r.status in ("failed", "blocked"):
            ET.SubElement(case, "failure", message=r.message, type=r.status).text = text
        elif r.status == "error":
            ET.SubElement(case, "error", message=r.message).text = text
        elif r.status == "skipped":
            ET.SubElement(case, "skipped", message=r.message)
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: GradeResult, path: Path) -> Path:
    return write_atomic(path, junit_xml(result))
