"""The attachments bucket through boto3. Bytes never pass through Lambda except for image processing.

Presigned URLs are signed with SigV4 explicitly: botocore still signs SigV2 URLs in us-east-1 by default.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config

from chalicelib.settings import get_settings

PENDING_TAG = "state=pending"
ATTACHED_TAG = "state=attached"
_PENDING_TAGGING_XML = "<Tagging><TagSet><Tag><Key>state</Key><Value>pending</Value></Tag></TagSet></Tagging>"


@lru_cache(maxsize=1)
def client() -> Any:
    """The S3 client (one per container); ``AWS_ENDPOINT_URL_S3`` points it at moto locally."""
    return boto3.client("s3", region_name=get_settings().region, config=Config(signature_version="s3v4"))


def bucket() -> str:
    return get_settings().attachments_bucket


def presign_upload(key: str, content_type: str, max_bytes: int) -> dict[str, Any]:
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
    return client().generate_presigned_post(
        Bucket=bucket(),
        Key=key,
        Fields=fields,
        Conditions=conditions,
        ExpiresIn=get_settings().upload_url_ttl_seconds,
    )


def presign_download(key: str, content_type: str, *, file_name: str | None, inline: bool) -> str:
    """A short-lived GET URL whose response type is fixed (never what the uploader claimed it is)."""
    disposition = "inline" if inline else "attachment"
    if file_name:
        disposition += f"; filename*=UTF-8''{quote(file_name)}"
    return client().generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket(),
            "Key": key,
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
        },
        ExpiresIn=get_settings().download_url_ttl_seconds,
    )


def head(key: str) -> dict[str, Any] | None:
    """The object's metadata, or None when there is no such object."""
    try:
        return client().head_object(Bucket=bucket(), Key=key)
    except client().exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def read_head(key: str, length: int = 32) -> bytes:
    """The first ``length`` bytes of an object (a ranged GET)."""
    return client().get_object(Bucket=bucket(), Key=key, Range=f"bytes=0-{length - 1}")["Body"].read()


def read(key: str) -> bytes:
    return client().get_object(Bucket=bucket(), Key=key)["Body"].read()


def write(key: str, data: bytes, content_type: str, *, attached: bool) -> None:
    client().put_object(
        Bucket=bucket(),
        Key=key,
        Body=data,
        ContentType=content_type,
        Tagging=ATTACHED_TAG if attached else PENDING_TAG,
        ServerSideEncryption="AES256",
    )


def mark_attached(keys: list[str]) -> None:
    """Tag objects as used by a message, so the lifecycle rule for abandoned uploads leaves them alone."""
    for key in keys:
        client().put_object_tagging(
            Bucket=bucket(), Key=key, Tagging={"TagSet": [{"Key": "state", "Value": "attached"}]}
        )


def ensure_bucket(allowed_origins: tuple[str, ...]) -> None:
    """Create the bucket as infrastructure/ does (private, encrypted, CORS, lifecycle): dev stack and tests."""
    s3, name = client(), bucket()
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if name not in existing:
        region = get_settings().region
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
