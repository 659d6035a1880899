"""Where things are kept: the SQLite catalog (the truth), vector indexes (caches), locks, paths."""
