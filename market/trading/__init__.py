"""Trading: instruments, orders, risk, settlement and the pure matching engine."""
