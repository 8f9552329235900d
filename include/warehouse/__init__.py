"""The PostgreSQL warehouse: connections, migrations, loads."""
