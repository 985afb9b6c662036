"""Adapters: everything that talks to AWS (DynamoDB, the ``@connections`` API, S3). Built by ``bootstrap``."""
