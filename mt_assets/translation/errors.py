class TranslationError(ValueError):
    """A translation step that cannot run as asked; the message names what to fix."""
