"""HTTP plumbing shared by every controller: transaction, caller, idempotency, problem details."""
