"""GitHub Actions glue: the runner's files and commands, the REST API, and the job flow."""
