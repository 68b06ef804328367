"""Where training runs: one resource interface (base.py), one implementation per place."""
