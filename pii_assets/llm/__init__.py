"""LLM providers (OpenAI-compatible chat completions and batches) and their test server."""
