"""Running things on a host reached over SSH: pinned connections, quoted commands, wheel bundles,
remote virtualenvs and detached processes that outlive the connection. It knows no training or
translation job: the drivers that run those are `mt_assets.launchers.ssh_training` and `ssh_translation`."""
