{#- The ledger's night shown for the night as_of (docs/corrections.md): its own, or the last good
    one before it (a broken findings folder leaves the last good ledger published). One home for
    the ledger's reader (corrections.ledger.latest) and the correction_evidence extracts. -#}
(SELECT max(as_of) FROM corrections.nights WHERE as_of <= DATE '{{ as_of }}')
