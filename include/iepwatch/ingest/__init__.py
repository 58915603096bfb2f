"""Ingest: the export contract, finding and archiving the night's export, loading it, the gate."""
