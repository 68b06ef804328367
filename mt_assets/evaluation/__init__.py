"""Scoring translations honestly: sacrebleu corpus metrics with signatures, paired
significance against a baseline, segment-level chrF++, the leaderboard. No Dagster here."""
