"""Regulator queries, approvals, freezes and the invariant report."""
