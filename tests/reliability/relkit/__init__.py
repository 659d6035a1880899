"""The reliability suite's kit: catalog comparison, integrity checks, runs, media, mutations."""
