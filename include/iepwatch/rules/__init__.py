"""The compliance rules: their catalog, the state timeline packs, the statuses, and evaluating a night."""
