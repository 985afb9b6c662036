"""Local development tools: the dev stack on moto (``python -m dev.stack``) and dev tokens (``python -m dev.token``)."""
