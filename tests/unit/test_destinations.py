"""The one rule for where a secret may be sent."""

from __future__ import annotations

import pytest

from assay.errors import InvalidInputError
from assay.security.destinations import check_destination, destination, normalize_entry


def allowed(hosts: list[str] | None, provider: str, base_url: str | None) -> bool:
    try:
        check_destination("key", hosts, provider, base_url)
    except InvalidInputError:
        return False
    return True


@pytest.mark.parametrize(
    ("hosts", "provider", "base_url", "expected"),
    [
        # A secret that lists nothing goes to its provider's own host only.
        (None, "openai", None, True),
        (None, "openai", "https://api.openai.com/v1", True),
        (None, "openai", "https://evil.example/v1", False),
        (None, "mistral", None, True),
        (None, "deepseek", "https://api.openai.com/v1", False),
        (None, "openai-compatible", "http://127.0.0.1:8000/v1", False),
        (None, "vllm", "https://api.openai.com/v1", False),
        (None, "hf", None, True),
        (None, "mock", None, True),
        ([], "unknown-provider", "https://x.example", False),
        # Hosts match any port unless one is given; base URLs match scheme, host, port, path.
        (["127.0.0.1"], "openai-compatible", "http://127.0.0.1:8000/v1", True),
        (["127.0.0.1:9000"], "openai-compatible", "http://127.0.0.1:8000/v1", False),
        (["gw.example.com"], "openai", None, False),
        (["https://gw.example.com/v1"], "openai-compatible", "https://gw.example.com/v1", True),
        (["https://gw.example.com/v1"], "openai-compatible", "https://gw.example.com/v1/deeper", True),
        (["https://gw.example.com/v1"], "openai-compatible", "https://gw.example.com/v10", False),
        (["https://gw.example.com/v1"], "openai-compatible", "http://gw.example.com/v1", False),
        (["https://gw.example.com"], "openai-compatible", "https://gw.example.com:8443/v1", False),
        (["GW.Example.com"], "openai-compatible", "https://gw.example.COM/v1", True),
        (["[::1]"], "openai-compatible", "http://[::1]:8000/v1", True),
        (["127.0.0.1"], "openai-compatible", "file:///etc/passwd", False),
    ],
)
def test_destination_rule(
    hosts: list[str] | None, provider: str, base_url: str | None, expected: bool
) -> None:
    assert allowed([normalize_entry(h) for h in hosts] if hosts else hosts, provider, base_url) is expected


def test_refusal_names_the_field_and_the_host() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_destination(
            "openai_key", None, "openai", "https://collector.example/v1", field="secret_key_name"
        )
    assert refused.value.field == "secret_key_name"
    assert "collector.example" in refused.value.message and "api.openai.com" in refused.value.message


def test_the_hugging_face_token_goes_to_the_hub_whatever_the_base_url() -> None:
    assert destination("hf", "https://elsewhere.example") == "https://huggingface.co"


@pytest.mark.parametrize(
    "entry", ["ftp://host", "a b", "http://user:pw@host", "host/path", "host:99999", "", "http://:pw@host"]
)
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(ValueError):
        normalize_entry(entry)
