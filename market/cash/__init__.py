"""Cash accounts in integer fen, the double-entry journal, deposits and withdrawals."""
