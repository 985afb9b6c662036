"""The attachments bucket through boto3. Bytes never pass through Lambda except for image processing.

Presigned URLs are signed with SigV4 explicitly: botocore still signs SigV2 URLs in us-east-1 by default.
Every boto3/botocore failure leaves this module as ``FileStorageError``, so the error boundary can tell a
file-storage outage (``storage_unavailable``) from a database one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import FileStorageError
from chalicelib.settings import Settings

PENDING_TAG = "state=pending"
ATTACHED_TAG = "state=attached"
_PENDING_TAGGING_XML = "<Tagging><TagSet><Tag><Key>state</Key><Value>pending</Value></Tag></TagSet></Tagging>"

F = TypeVar("F", bound=Callable[..., Any])


def _storage(method: F) -> F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise FileStorageError(exc) from exc

    return wrapper  # type: ignore[return-value]


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class S3Files:
    """The attachments bucket. One per container (bootstrap); ``AWS_ENDPOINT_URL_S3`` points it at moto locally."""

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self._settings = settings
        self._client = client
        self.bucket = settings.attachments_bucket

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client(
                "s3", region_name=self._settings.region, config=Config(signature_version="s3v4")
            )
        return self._client

    @_storage
    def presign_upload(self, key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
        """A presigned POST that accepts exactly one object: this key, this Content-Type, 1..max_bytes bytes.

        The object is tagged ``state=pending`` so the bucket's lifecycle rule removes it if no message ever
        uses it.
        """
        fields = {"Content-Type": content_type, "tagging": _PENDING_TAGGING_XML}
        conditions: list[Any] = [
            {"Content-Type": content_type},
            {"tagging": _PENDING_TAGGING_XML},
            ["content-length-range", 1, max_bytes],
        ]
        post: dict[str, Any] = self.client.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields=fields,
            Conditions=conditions,
            ExpiresIn=self._settings.upload_url_ttl_seconds,
        )
        return post

    @_storage
    def presign_download(self, key: str, content_type: str, *, file_name: str | None, inline: bool) -> str:
        """A short-lived GET URL whose response type is fixed (never what the uploader claimed it is)."""
        disposition = "inline" if inline else "attachment"
        if file_name:
            disposition += f"; filename*=UTF-8''{quote(file_name)}"
        url: str = self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
            ExpiresIn=self._settings.download_url_ttl_seconds,
        )
        return url

    @_storage
    def head(self, key: str) -> dict[str, Any] | None:
        """The object's metadata, or None when there is no such object."""
        try:
            meta: dict[str, Any] = self.client.head_object(Bucket=self.bucket, Key=key)
            return meta
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    @_storage
    def read_head(self, key: str, length: int = 32) -> bytes:
        """The first ``length`` bytes of an object (a ranged GET)."""
        head: bytes = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{length - 1}")["Body"].read()
        return head

    @_storage
    def read(self, key: str, *, etag: str | None = None) -> tuple[bytes, str] | None:
        """The object's bytes and ETag; with ``etag``, only that version of it. None when the object is gone, or
        is no longer that version."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, **({"IfMatch": etag} if etag else {}))
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                return None
            raise
        data: bytes = response["Body"].read()
        return data, str(response["ETag"])

    @_storage
    def copy(self, source_key: str, target_key: str, *, etag: str) -> bool:
        """Copy exactly the version ``etag`` of an object, server-side (no bytes through Lambda), tagged pending;
        False when the source is no longer that version."""
        try:
            response = self.client.copy_object(
                Bucket=self.bucket,
                Key=target_key,
                CopySource={"Bucket": self.bucket, "Key": source_key},
                CopySourceIfMatch=etag,
                MetadataDirective="COPY",
                TaggingDirective="REPLACE",
                Tagging=PENDING_TAG,
                ServerSideEncryption="AES256",
            )
        except self.client.exceptions.ClientError as exc:
            if _error_code(exc) in ("PreconditionFailed", "412", "NoSuchKey", "404"):
                return False
            raise
        # A single-part object's ETag is its MD5 (SSE-S3 included): the copy is the version checked or it is not
        # (a store that ignores CopySourceIfMatch, like moto, is caught here; the stray copy expires as pending).
        return bool(response["CopyObjectResult"]["ETag"] == etag)

    @_storage
    def write(self, key: str, data: bytes, content_type: str, *, attached: bool) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            Tagging=ATTACHED_TAG if attached else PENDING_TAG,
            ServerSideEncryption="AES256",
        )

    @_storage
    def mark_attached(self, keys: list[str]) -> None:
        """Tag objects as used by a message, so the lifecycle rule for abandoned uploads leaves them alone."""
        for key in keys:
            self.client.put_object_tagging(
                Bucket=self.bucket, Key=key, Tagging={"TagSet": [{"Key": "state", "Value": "attached"}]}
            )

    @_storage
    def release(self, keys: list[str]) -> None:
        """Tag objects as unused again (their message was deleted): the bucket's lifecycle rule removes them."""
        for key in keys:
            self.client.put_object_tagging(
                Bucket=self.bucket, Key=key, Tagging={"TagSet": [{"Key": "state", "Value": "pending"}]}
            )

    @_storage
    def ensure_bucket(self, allowed_origins: tuple[str, ...]) -> None:
        """Create the bucket as infrastructure/ does (private, encrypted, CORS, lifecycle): dev stack and tests."""
        s3, name = self.client, self.bucket
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if name not in existing:
            region = self._settings.region
            kwargs: dict[str, Any] = {"Bucket": name}
            if region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            s3.create_bucket(**kwargs)
        s3.put_public_access_block(
            Bucket=name,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_encryption(
            Bucket=name,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": list(allowed_origins),
                        "AllowedMethods": ["GET", "POST", "HEAD"],
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 3000,
                    }
                ]
            },
        )
        s3.put_bucket_lifecycle_configuration(
            Bucket=name,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire-abandoned-uploads",
                        "Status": "Enabled",
                        "Filter": {"Tag": {"Key": "state", "Value": "pending"}},
                        "Expiration": {"Days": 1},
                    },
                    {
                        "ID": "abort-incomplete-multipart",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    },
                ]
            },
        )
