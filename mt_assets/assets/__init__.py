"""Software-defined assets, one module per stage. Assets stay thin: they read resources,
call a domain function and return MaterializeResult(metadata=...)."""
