"""Database: engine and sessions, the embedded server, migrations, locks."""
