"""The SQLite catalog: schema, migrations and connections."""
