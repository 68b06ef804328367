class EvaluationError(ValueError):
    """Scoring could not produce an honest number. Raised instead of recording 0.0."""
