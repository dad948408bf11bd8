"""Provider clients on one shared HTTP base (PROVIDERS.md)."""
