"""Storage: where everything that must survive a restart is kept.

Credentials, config and usage totals all end up on disk (or, later, in PostgreSQL, Git or S3
behind one Store contract). For now the package holds the one primitive every writer shares:
an atomic file write, so a crash leaves the old file or the new one, never half of either.
"""

from storage.atomic import remove_stale_temps, write_atomic, write_atomic_async

__all__ = ["remove_stale_temps", "write_atomic", "write_atomic_async"]
