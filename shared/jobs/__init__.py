"""One module per timer: each reads, applies the rules of alerts/, and records what it raised."""
