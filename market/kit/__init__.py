"""Small shared pieces: money, errors, time, identifiers, pagination."""
