"""Pure rules of messaging: identifiers, read state, cursors. No I/O here."""
