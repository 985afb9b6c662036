"""Entry points: HTTP blueprints, the socket dispatcher, the S3 upload handler. Each parses its event, calls one
use case and shapes the answer; failures go through ``boundary``."""
