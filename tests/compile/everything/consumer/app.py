def main(webhook):
    return None
