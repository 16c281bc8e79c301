"""The control plane: desired state in SQLite, placement, worker processes, and reconciliation."""
