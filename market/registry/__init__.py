"""Assets, rights, eco-products, batches, holdings, transfers, retirements, pledges."""
