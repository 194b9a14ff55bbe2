"""kmap."""
