"""Where training and translation run: one resource interface (base.py), one implementation per
place (local.py, ssh.py), and the SSH drivers without Dagster (ssh_training.py, ssh_translation.py)."""
