"""The shell analysis: which constructs let a script exit 0 when its test command fails."""

from __future__ import annotations

import re

import pytest

from grader.shellscan import Command, Shell, apply_set, scan, script_shell, shell_for

DEFAULT = shell_for(None)
NO_E = shell_for("bash {0}")


def is_gate(command: Command) -> bool:
    return bool(re.search(r"\bpytest\b|\bmake\s+test\b", command.text))


def swallows(script: str, shell: Shell | None = DEFAULT) -> list[tuple[int, str]]:
    assert shell is not None
    found = scan(script, is_gate, shell)
    assert found.gates, "no gate command found"
    return [(s.line, s.what) for s in found.swallows]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("pytest || true", (1, "`|| true`")),
        ("pytest -q || :", (1, "`|| :`")),
        (
            "make test-api || echo 'Integration tests completed'",
            (1, "`|| echo 'Integration tests completed'`"),
        ),
        ("timeout 600 pytest || true", (1, "`|| true`")),
        ("pytest \\\n  --cov \\\n  || true", (3, "`|| true`")),
        ("pytest | tee log.txt", (1, "`| tee log.txt` without `set -o pipefail`")),
        ("set +e\npytest\necho done", (1, "`set +e` with no check of `$?`")),
        ("set +o errexit\npytest\necho done", (1, "`set +o errexit` with no check of `$?`")),
        ("if pytest; then echo ok; fi", (1, "`if pytest` (its failure only picks a branch)")),
        ("pytest && echo ok || echo failed", (1, "`|| echo failed`")),
        (
            "pytest && echo passed\necho done",
            (1, "`pytest && echo passed` (exempt from `set -e` in a `&&`/`||` list)"),
        ),
        ("! pytest", (1, "`! pytest` (`!` inverts the status)")),
        ("pytest &\nwait", (1, "`&` (runs it in the background)")),
        ('echo "$(pytest)"', (1, '`echo "$(pytest)"` (drops the status of `$( )`)')),
        ("while pytest; do sleep 1; done", (1, "`while pytest` (its failure ends the loop)")),
        ('pytest || echo "pytest exited $?"', (1, '`|| echo "pytest exited $?"`')),
        (
            "set +e\npytest\necho status $?",
            (1, "`set +e` with no check of `$?`"),
        ),
        ("run_tests() { pytest || true; }\nrun_tests", (1, "`|| true`")),
        ("if [[ -f setup.cfg ]]; then pytest || true; fi", (1, "`|| true`")),
        ("echo ${{ matrix.python }}\npytest || true", (2, "`|| true`")),
    ],
)
def test_swallowing_construct_is_found_with_its_line(
    script: str, expected: tuple[int, str]
) -> None:
    assert swallows(script) == [expected]


@pytest.mark.parametrize(
    "script",
    [
        "pytest",
        "set -e\npytest\necho done",
        "pytest || (cat log; exit 1)",
        "pytest || exit 1",
        "pytest || exit",
        "pytest || pytest --last-failed",
        "if ! pytest; then exit 1; fi",
        "if pytest; then echo ok; else echo failed; exit 1; fi",
        "set -o pipefail\npytest | tee log",
        "pytest | tee log; exit ${PIPESTATUS[0]}",
        "set +e\npytest\nstatus=$?\nset -e\necho done\nexit $status",
        "pytest || status=$?\necho done\nexit $status",
        "set +e\npytest\nif [ $? -ne 0 ]; then exit 1; fi\necho done",
        "cd src && pytest",
        "pytest && echo passed",
        "out=$(pytest)",
        "pytest --exitfirst; echo done",
        # `bash -e` stops at the failure: the `exit 0` is never reached.
        "pytest; exit 0",
    ],
)
def test_legitimate_script_is_not_flagged(script: str) -> None:
    assert swallows(script) == []


def test_shell_without_errexit_lets_the_script_go_on() -> None:
    assert swallows("pytest; exit 0", NO_E) == [(1, "`exit 0`")]
    assert swallows("pytest\necho done", NO_E) == [
        (1, "the shell `bash {0}` (no -e) with no check of `$?`")
    ]
    assert swallows("pytest", NO_E) == []


def test_explicit_bash_shell_has_pipefail() -> None:
    assert swallows("pytest | tee log", shell_for("bash")) == []
    assert swallows("pytest | tee log", shell_for("sh")) != []


def test_unparsable_script_falls_back_to_a_line_scan() -> None:
    found = scan("case $x in\n  a) pytest || true ;;\nesac", is_gate, DEFAULT)
    assert found.fallback is not None
    assert found.fallback.startswith("bashlex could not parse the script (NotImplementedError")
    assert [(s.line, s.what) for s in found.swallows] == [(2, "`|| true`")]


def test_empty_and_comment_only_scripts_have_no_gate() -> None:
    assert scan("", is_gate, DEFAULT).gates == ()
    assert scan("# pytest || true\n", is_gate, DEFAULT).gates == ()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, (True, False)),
        ("bash", (True, True)),
        ("sh", (True, False)),
        ("bash {0}", (False, False)),
        ("bash --noprofile --norc -eo pipefail {0}", (True, True)),
        ("/usr/bin/bash -e {0}", (True, False)),
    ],
)
def test_shell_for(spec: str | None, expected: tuple[bool, bool]) -> None:
    shell = shell_for(spec)
    assert shell is not None
    assert (shell.errexit, shell.pipefail) == expected


def test_non_posix_shells_are_not_analysed() -> None:
    assert shell_for("pwsh") is None
    assert shell_for("python {0}") is None


def test_script_shell_reads_the_invocation_then_the_shebang() -> None:
    assert script_shell(("bash", "t.sh"), "#!/bin/bash -e\n").errexit is False
    assert script_shell(("bash", "-e", "t.sh"), "").errexit is True
    assert script_shell(("./t.sh",), "#!/bin/bash -e\n").errexit is True
    assert script_shell(("./t.sh",), "#!/usr/bin/env bash\n").errexit is False


def test_apply_set() -> None:
    assert apply_set(["-euo", "pipefail"], False, False) == (True, True)
    assert apply_set(["+e"], True, True) == (False, True)
    assert apply_set(["-x"], False, False) == (False, False)


BASH_CASES = [
    "pytest || true",
    "pytest | tee /dev/null",
    "set -o pipefail\npytest | tee /dev/null",
    "set +e\npytest\necho done",
    "pytest; exit 0",
    "pytest && echo ok\necho done",
    "pytest && echo ok",
    "{ pytest; echo reached; } && true\necho done",
    "if set +e; then :; fi\npytest\necho done",
    "for f in a b; do pytest && echo ok; done\necho done",
    "for f in a; do pytest; done\necho done",
    "( pytest; echo reached )\necho done",
    "if pytest; then echo ok; fi",
    "if ! pytest; then exit 1; fi",
    "pytest || (echo failed; exit 1)",
    "! pytest\necho done",
    "x=$(pytest)\necho done",
    "echo $(pytest)",
    "f() { pytest; echo in-f; }\nf\necho done",
    "true && ! pytest\necho done",
    "while pytest; do :; done",
]


@pytest.mark.parametrize("errexit", [True, False], ids=["bash-e", "bash"])
@pytest.mark.parametrize("script", BASH_CASES)
def test_verdict_matches_what_bash_does(script: str, errexit: bool) -> None:
    """Run the script in real bash with a failing `pytest`: exit 0 is a swallow."""
    import subprocess

    shell = shell_for("bash -e {0}" if errexit else "bash {0}")
    assert shell is not None
    preamble = "pytest() { return 1; }\n"
    flags = ["-e"] if errexit else []
    done = subprocess.run(
        ["bash", *flags, "-c", preamble + script], capture_output=True, timeout=10, check=False
    )
    found = scan(script, is_gate, shell)
    assert bool(found.swallows) is (done.returncode == 0), (done.returncode, found.swallows)
