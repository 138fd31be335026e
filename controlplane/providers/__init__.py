"""Provider credentials: LLM provider API keys held for agents, encrypted at rest."""
