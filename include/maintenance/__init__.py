"""Operations: database backups with retention, restore checks, and health checks."""
