"""Parties, API keys (stored hashed), roles and the auth guard."""
