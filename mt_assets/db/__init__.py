"""PostgreSQL: the embedded server, connection URLs, migrations, engines."""

from mt_assets.db.errors import DatabaseError

__all__ = ["DatabaseError"]
