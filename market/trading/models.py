"""Trading tables."""
