"""The ledger of the state's findings of noncompliance and their correction (docs/corrections.md)."""
