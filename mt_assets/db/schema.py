"""sql/schema.sql: the schema the migrations build, in one readable file. It is generated from a
migrated database by pg_dump and never applied by `migrate` (which runs only the numbered files);
test_migrations checks that it is current and that a database built from it equals a migrated one.
After adding a migration:  python -m mt_assets.db.schema > sql/schema.sql"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

from mt_assets.db import urls
from mt_assets.db.server import EmbeddedServer, bin_dir

HEADER = """\
-- The llm schema as the migrations in this directory build it, in one file to read.
-- Generated: python -m mt_assets.db.schema > sql/schema.sql  (do not edit; add a migration)
"""
# pg_dump's session settings, its version banner and (PostgreSQL 18) a random \\restrict key:
# noise for a reader, and the key would differ on every dump. check_function_bodies stays: a SQL
# function is dumped before the tables its body reads.
_NOISE = re.compile(
    r"^(SET (?!check_function_bodies)|SELECT pg_catalog\.set_config|\\restrict |\\unrestrict |-- Dumped (from|by) )"
)


def dump(url: str) -> str:
    """The llm schema of the database at `url`, as sql/schema.sql holds it."""
    out = subprocess.run(
        [str(bin_dir() / "pg_dump"), "--schema-only", "--schema=llm", "--no-owner", "--no-privileges",
         "--dbname", urls.libpq(url)],
        capture_output=True, text=True, check=True,
    ).stdout
    kept = [line for line in out.splitlines() if not _NOISE.match(line)]
    body = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return HEADER + "\n" + body + "\n"


def main() -> int:
    """Migrate a throwaway embedded database and print its schema."""
    from mt_assets.db.migrate import migrate

    with tempfile.TemporaryDirectory(prefix="mt-schema-", dir="/tmp") as root:
        Path(root).chmod(0o755)  # as root the server runs as its own user, which must enter it
        server = EmbeddedServer(Path(root), database="postgres")
        url = server.start()
        try:
            migrate(url)
            sys.stdout.write(dump(url))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
