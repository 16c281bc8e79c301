"""Batch endpoints' jobs: the values and decisions (jobs), and the durable mini-batch queue (store)."""
