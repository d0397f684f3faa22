"""MLflow conventions: where runs go (``uris``), how they are tagged and found again (``store``),
artifacts written whole, claims between processes, the UI."""
