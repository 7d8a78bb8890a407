"""The assignment scanner: each format's forms are found, placeholders and references are not."""

from __future__ import annotations

import json

import pytest

from grader.secretscan import credential_kind, is_literal, is_third_party, scan


def found(path: str, text: str) -> list[tuple[int, str, str]]:
    return [(a.line, a.key, a.kind) for a in scan(path, text)]


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        (
            "prod.tfvars",
            'region = "eu"\ndatabase_password = "Hunt3r-x9"\n',
            (2, "database_password"),
        ),
        (
            "infra/main.tf",
            'variable "db_password" {\n  default = "Zq8-s3cr"\n}\n',
            (2, "db_password"),
        ),
        ("infra/main.tf", 'variable "api_token" { default = "tk-81xq" }\n', (1, "api_token")),
        ("deploy/values.yaml", "db:\n  user: bob\n  token: ghx_abc123def\n", (3, "token")),
        ("compose.yaml", "env:\n  - POSTGRES_PASSWORD=pg-Secret-9\n", (2, "POSTGRES_PASSWORD")),
        ("settings.ini", "[db]\npassword = Pa55-real ; old one\n", (2, "password")),
        ("setup.cfg", "[upload]\napi_key: k-81723asd\n", (2, "api_key")),
        (
            "app.properties",
            "spring.datasource.password=Zq8-real\n",
            (1, "spring.datasource.password"),
        ),
        ("pyproject.toml", '[tool.x]\n"api-key" = "sk-live-abcdef"\n', (2, "api-key")),
        ("conf.json", '{"user": "a", "client_secret": "abc-123-xyz"}\n', (1, "client_secret")),
        (".env", "export DB_PASSWORD=hunter22\n", (1, "DB_PASSWORD")),
        ("prod.env", "PWD=/home/x\nHF_TOKEN='hf_abcdefgh'  # mine\n", (2, "HF_TOKEN")),
        (".env.production", "AWS_SECRET_ACCESS_KEY=wJalr-XUtn\n", (1, "AWS_SECRET_ACCESS_KEY")),
        (
            ".aws/credentials",
            "[default]\naws_secret_access_key = wJalr-XUtn\n",
            (2, "aws_secret_access_key"),
        ),
        (
            ".dvc/config.local",
            "['remote \"s3\"']\nsecret_access_key = wJalr-X\n",
            (2, "secret_access_key"),
        ),
        (".netrc", "machine pypi.org login ann password Netrc-81x\n", (1, "password")),
        (".npmrc", "//registry.npmjs.org/:_authToken=npm-81x-abc\n", (1, "_authToken")),
        (".pypirc", "[pypi]\nusername = __token__\npassword = pypi-AgEIcHlw\n", (3, "password")),
        (
            "docker/config.json",
            '{"auths": {"ghcr.io": {"auth": "YW5uOmhsdHIyOTE="}}}\n',
            (1, "auth"),
        ),
    ],
)
def test_a_literal_credential_is_found_with_its_line_and_key(
    path: str, text: str, expected: tuple[int, str]
) -> None:
    assert [(line, key) for line, key, _ in found(path, text)] == [expected]


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("prod.tfvars", 'database_password = ""\n'),
        ("main.tf", 'resource "x" "y" {\n  password = var.db_password\n  token = "${var.t}"\n}\n'),
        ("main.tf", 'variable "region" {\n  default = "eu-west-1"\n}\n'),
        ("values.yaml", "password: changeme\ntoken: <your-token>\napi_key: ${API_KEY}\n"),
        ("ci.yml", "password: ${{ secrets.DOCKER_PASSWORD }}\ntoken: '{{ vault_token }}'\n"),
        ("values.yaml", "password: '***'\nsecret: xxxxxxxx\ntoken: null\npassword: None\n"),
        ("values.yaml", "password: !vault |\n  $ANSIBLE_VAULT;1.1\nsecret_key: ENC[AES256,x]\n"),
        ("values.yaml", "password_file: /run/secrets/db\ntoken_url: https://x/token\n"),
        ("values.yaml", "pad_token: '[PAD]'\neos_token: </s>\nmax_tokens: 2048\nauthor: Ann\n"),
        ("values.yaml", "auth: basic\nssh_key: deploy/id.pub\nsort_key: created_at\n"),
        ("settings.ini", "[db]\npassword = your-password-here\nsecret = os.environ['SECRET']\n"),
        ("conf.json", '{"password": null, "apiKey": "example-key", "token": "$TOKEN"}\n'),
        (".env", "OPENAI_API_KEY=\nDB_PASSWORD=${DB_PASSWORD}\nSECRET=changeme\n"),
        (".env.example", "DB_PASSWORD=postgres\n"),
        ("README.md", "password = hunter22\n"),
        ("openssl.cnf", "secret = # disabled\npasswd:  files\n"),
        ("ci.json", '{"CUSTOM_DB_PASSWORD": "DATABASE_PASSWORD"}\n'),
        (
            "errors.py",
            'ACCESS_TOKEN_FAILURE = "ACCESS_TOKEN_FAILURE"\nscipy(pass_zero="bandstop")\n',
        ),
        ("gateway.py", 'EXAMPLE = {"api_key": "sk-xxx..."}\n'),
    ],
)
def test_placeholders_references_and_other_names_are_not_found(path: str, text: str) -> None:
    assert found(path, text) == []


def test_kinds_are_named_from_the_key() -> None:
    kinds = {
        key: credential_kind(key)
        for key in ("dbPassword", "GITHUB_TOKEN", "OPENAI_API_KEY", "private_key", "credentials")
    }
    assert kinds == {
        "dbPassword": "Password",
        "GITHUB_TOKEN": "Token",
        "OPENAI_API_KEY": "API key",
        "private_key": "Private key",
        "credentials": "Credentials",
    }
    assert credential_kind("basic_auth") == "Auth"
    assert credential_kind("tokenizer") is None
    assert credential_kind("PWD") is None


def test_literal_values() -> None:
    assert is_literal("Hunt3r-x9")
    assert is_literal("12345678")
    for value in ("", "abc", "changeme", "<token>", "$X", "%(pw)s", "var.db", "512", "XXXXXX"):
        assert not is_literal(value), value


def notebook() -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["password = 'in prose'\n"]},
        {
            "cell_type": "code",
            "metadata": {},
            "source": [
                "import os\n",
                "%env OPENAI_API_KEY=sk-abc123456\n",
                'api_key = "sk-proj-realkey1"\n',
                "db = os.environ['DB_PASSWORD']\n",
            ],
            "outputs": [
                {"output_type": "stream", "name": "stdout", "text": ["{'password': 'leak-1'}\n"]}
            ],
        },
    ]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4}, indent=1)


def test_notebook_code_cells_and_outputs_are_scanned_at_their_line_in_the_file() -> None:
    text = notebook()
    hits = found("eda.ipynb", text)
    assert [(key, kind) for _, key, kind in hits] == [
        ("OPENAI_API_KEY", "API key"),
        ("api_key", "API key"),
        ("password", "Password"),
    ]
    lines = text.splitlines()
    assert [k for line, k, _ in hits if k in lines[line - 1]] == [
        "OPENAI_API_KEY",
        "api_key",
        "password",
    ]


def test_a_one_line_notebook_is_scanned_too() -> None:
    minified = json.dumps(json.loads(notebook()))
    assert [line for line, _, _ in found("eda.ipynb", minified)] == [1, 1, 1]


def test_python_sources_are_read_as_code() -> None:
    code = 'token = os.getenv("HF_TOKEN", "hf_default123")\nconnect(password="pw-literal1")\n'
    assert found("db.py", code) == [(1, "HF_TOKEN", "Token"), (2, "password", "Password")]
    assert found("db.py", 'password = os.environ["DB_PASSWORD"]\n') == []


@pytest.mark.parametrize(
    ("path", "third_party"),
    [
        (".venv/lib/python3.11/site-packages/x/tests/key.pem", True),
        ("usr/local/lib/python3.11/site-packages/somepkg/tests/test_key.pem", True),
        ("usr/lib/python3/dist-packages/x/key.pem", True),
        ("web/node_modules/pkg/test/key.pem", True),
        ("wheels/pkg-1.0-py3-none-any.whl", True),
        ("app/key.pem", False),
        ("src/venvtools/secret.yaml", False),
    ],
)
def test_third_party_paths(path: str, third_party: bool) -> None:
    assert is_third_party(path) is third_party


def test_a_virtual_environment_under_any_name_is_third_party() -> None:
    assert is_third_party("env/lib/x/key.pem", frozenset({"env"}))
    assert not is_third_party("env/prod.env", frozenset())
