"""Nami: webhook pipelines as code (API Gateway -> SQS -> Lambda on CloudFormation)."""

__version__ = "0.1.0"
