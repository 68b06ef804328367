class DatabaseError(RuntimeError):
    """A database problem explained in one line: what is wrong and what to do."""
