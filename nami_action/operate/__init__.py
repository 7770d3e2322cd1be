"""Operating deployed pipelines: status, dead letters (peek, export, redrive), test webhooks."""
