"""`nami dev`: every pipeline of nami.yaml on one machine, for trying handlers before deploying.

    HTTP server (server.py) --group commit--> SQLite queue (queue.py) --> workers (workers.py)
    --> the real consumer runtime (consumers.py builds it) --> delete / retry / dead letter

app.py wires the parts; http11.py reads requests; console.py shows the counters.
"""
