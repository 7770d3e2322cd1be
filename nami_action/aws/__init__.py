"""The AWS layer: the only place in nami that calls boto3."""
