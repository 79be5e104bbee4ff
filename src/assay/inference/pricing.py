"""What a response cost, from its token counts and a per-model price.

Prices are list prices in US dollars per million tokens, keyed by provider *name* and model,
so that a local vLLM server that happens to serve a model called ``gpt-4o-mini`` is not
charged OpenAI's price. They change often: a config's ``price`` overrides this table, and a
model missing from it simply has no cost (``None``, never 0).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelPrice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million: float = Field(ge=0, description="USD per 1M prompt tokens")
    output_per_million: float = Field(ge=0, description="USD per 1M completion tokens")

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """``None`` when a token count is unknown: a partial sum would understate the cost."""
        if prompt_tokens is None or completion_tokens is None:
            return None
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6


DEFAULT_PRICES: dict[tuple[str, str], ModelPrice] = {
    (provider, model): ModelPrice(input_per_million=inp, output_per_million=out)
    for provider, model, inp, out in [
        ("openai", "gpt-4o", 2.50, 10.00),
        ("openai", "gpt-4o-mini", 0.15, 0.60),
        ("openai", "gpt-4.1", 2.00, 8.00),
        ("openai", "gpt-4.1-mini", 0.40, 1.60),
        ("openai", "gpt-4.1-nano", 0.10, 0.40),
        ("openai", "o4-mini", 1.10, 4.40),
        ("mistral", "mistral-small-latest", 0.10, 0.30),
        ("mistral", "mistral-large-latest", 2.00, 6.00),
        ("deepseek", "deepseek-chat", 0.27, 1.10),
        ("deepseek", "deepseek-reasoner", 0.55, 2.19),
    ]
}


def price_for(provider: str, model: str, override: ModelPrice | None = None) -> ModelPrice | None:
    if override is not None:
        return override
    return DEFAULT_PRICES.get((provider, model))
