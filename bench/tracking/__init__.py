"""MLflow conventions: where runs go, how they are tagged and found again, artifacts written whole, claims
between processes, the UI."""
