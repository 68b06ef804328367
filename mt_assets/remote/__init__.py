"""Running things on a host reached over SSH: pinned connections, quoted commands, wheel bundles,
remote virtualenvs and detached processes that outlive the connection."""
