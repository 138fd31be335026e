"""The adapter registry: one adapter per configured provider name."""

import pytest

from runtime.adapters import ADAPTERS, UnknownProvider, adapter_for


def test_known_providers() -> None:
    assert sorted(ADAPTERS) == ["anthropic", "openai", "openai-responses", "openrouter"]
    for name, adapter in ADAPTERS.items():
        assert adapter.name == name
        assert adapter_for(name) is adapter


def test_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(UnknownProvider, match="known providers: anthropic, openai") as raised:
        adapter_for("gemini")
    assert "'gemini'" in str(raised.value)
    assert isinstance(raised.value, ValueError)
