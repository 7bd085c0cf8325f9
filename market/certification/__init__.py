"""Certificates: canonical signing (Ed25519 over RFC 8785 bytes), the RFC 6962/9162 Merkle log,
encryption of signing keys at rest, and offline verification.

``signing`` and ``merkle`` are pure (no database, no HTTP, no clock, no randomness apart from key
generation delegated to ``cryptography``); the service layers persistence around them.
"""
