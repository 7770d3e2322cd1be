def handle(webhook):
    pass
