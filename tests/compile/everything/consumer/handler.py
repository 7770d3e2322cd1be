def handle(webhook):
    return None
