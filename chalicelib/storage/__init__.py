"""S3: the attachments bucket, presigned uploads and downloads."""
