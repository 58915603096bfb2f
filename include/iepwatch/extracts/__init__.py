"""State-reporting extracts: declarative formats, validated before publishing, byte-identical on regeneration."""
