"""Money in and out through Stripe: card deposits, the signed webhook inbox, Connect payouts
and reconciliation. The only package that imports `stripe`; it moves cash through `market.cash`."""
