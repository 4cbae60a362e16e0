"""S3 backend (AWS S3, MinIO, any S3-compatible store): one object per document.

Objects are ``<prefix>config/config.yaml``, ``<prefix>auths/<name>`` and ``<prefix>state/<key>``
(a non-empty prefix gets a trailing ``/``). A PUT replaces an object whole and is durable when
it returns. boto3 is imported only by :meth:`S3Store.start`; its client runs path-style, with
connect and read timeouts and at most two attempts per call. boto3 blocks, so every call runs
on the store's own small thread pool (a hung endpoint can tie up only those threads, never the
loop's default executor) under ``asyncio.timeout``: a call that does not answer raises
StoreUnavailable within ``timeout`` while the event loop goes on. No message ever carries the
secret key.

:meth:`S3Store.changes` lists the prefix every ``poll_interval`` (one ListObjectsV2 request
for up to 1000 objects) and compares ETags and LastModified with the previous listing; the
store's own writes update that listing, so they are not reported back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from storage._fanout import Fanout
from storage._layout import AUTH_DIR, identify, locate
from storage.base import Change, ChangeKind, Store, StoreError, StoreUnavailable, check_name

__all__ = ["S3Store"]

log = logging.getLogger("aiproxyapi.storage.s3")
_T = TypeVar("_T")
_WORKERS = 8
_RETRYABLE = frozenset({"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError"})
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]*@")
# key -> (ETag, LastModified); LastModified is None right after our own PUT, until a listing.
_Listing = dict[str, tuple[str, str | None]]


class S3Store(Store):
    """Documents as objects in an S3 bucket; see the module docstring."""

    kind = "s3"

    def __init__(
        self,
        endpoint: str,
        bucket: str,
        *,
        access_key: str,
        secret_key: str,
        region: str = "us-east-1",
        prefix: str = "",
        timeout: float = 10.0,
        poll_interval: float = 5.0,
    ) -> None:
        if endpoint and "://" not in endpoint:
            endpoint = (
                "https://" + endpoint
            )  # as CLIProxyAPI: the scheme decides TLS, https by default
        self._endpoint, self._bucket, self._region = endpoint, bucket, region
        self._access_key, self._secret_key = access_key, secret_key
        prefix = prefix.lstrip("/")
        self._prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self._timeout, self._poll_interval = timeout, poll_interval
        self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="s3store")
        self._client: Any = None
        self._known: _Listing = {}
        self._touched: set[str] = set()  # keys we wrote while a poll's listing was running
        self._closed = asyncio.Event()
        self._feed = Fanout(self._poll_changes)

    def __repr__(self) -> str:
        return f"S3Store({self._redact(self._endpoint)!r}, bucket={self._bucket!r})"

    async def start(self) -> None:
        """Build the client, create the bucket if it is missing, take the first listing."""
        self._client = await self._call("connecting", self._make_client)
        await self._call(f"checking bucket {self._bucket}", self._ensure_bucket)
        self._known = await self._listing(self._prefix)

    async def close(self) -> None:
        """Stop :meth:`changes` and release the client's connections."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._client is not None:
            closing = asyncio.get_running_loop().run_in_executor(self._pool, self._client.close)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self._timeout):
                    await closing
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def read_config(self) -> bytes | None:
        """The config object, or None."""
        return await self._get(locate(ChangeKind.CONFIG))

    async def write_config(self, data: bytes) -> None:
        """Replace the config object."""
        await self._put(locate(ChangeKind.CONFIG), data)

    async def list_auth(self) -> dict[str, bytes]:
        """Every auth object, by name (one listing, then the reads, a few at a time)."""
        start = len(self._prefix + AUTH_DIR)
        names = [key[start:] for key in await self._listing(self._prefix + AUTH_DIR)]
        names = [name for name in names if _safe(name)]
        limit = asyncio.Semaphore(_WORKERS)

        async def fetch(name: str) -> bytes | None:
            async with limit:
                return await self._get(locate(ChangeKind.AUTH, name))

        found = await asyncio.gather(*(fetch(name) for name in names))
        return {name: data for name, data in zip(names, found, strict=True) if data is not None}

    async def read_auth(self, name: str) -> bytes | None:
        """One auth object, or None."""
        return await self._get(locate(ChangeKind.AUTH, name))

    async def write_auth(self, name: str, data: bytes) -> None:
        """Create or replace one auth object."""
        await self._put(locate(ChangeKind.AUTH, name), data)

    async def delete_auth(self, name: str) -> None:
        """Delete one auth object (S3 answers a missing key with success too)."""
        key = self._prefix + locate(ChangeKind.AUTH, name)
        await self._call(
            f"deleting auth {name}", self._client.delete_object, Bucket=self._bucket, Key=key
        )
        self._known.pop(key, None)
        self._touched.add(key)

    async def read_state(self, key: str) -> bytes | None:
        """One state object, or None."""
        return await self._get(locate(ChangeKind.STATE, key))

    async def write_state(self, key: str, data: bytes) -> None:
        """Create or replace one state object."""
        await self._put(locate(ChangeKind.STATE, key), data)

    def changes(self) -> AsyncIterator[Change]:
        """List the prefix every poll interval; report what was added, changed or deleted.

        One poller serves every iterator.
        """
        return self._feed.subscribe()

    async def _poll_changes(self) -> AsyncIterator[Change]:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._closed.wait()
            if self._closed.is_set():
                return
            self._touched.clear()
            try:
                current = await self._listing(self._prefix)
            except StoreError as exc:
                log.warning("s3 store: poll failed: %s", exc)
                continue
            for change in self._compare(current):
                yield change

    def _compare(self, current: _Listing) -> list[Change]:
        for key in self._touched:  # our write is newer than what the listing saw
            if key in self._known:
                current[key] = self._known[key]
            else:
                current.pop(key, None)
        moved = [(key, False) for key, seen in current.items() if self._differs(key, *seen)]
        moved += [(key, True) for key in self._known if key not in current]
        self._known = current
        cut = len(self._prefix)
        found = (identify(key[cut:], deleted=gone) for key, gone in moved)
        return [change for change in found if change is not None]

    def _differs(self, key: str, etag: str, modified: str | None) -> bool:
        old = self._known.get(key)
        return old is None or old[0] != etag or old[1] not in (None, modified)

    async def _get(self, rel: str) -> bytes | None:
        return await self._call(f"reading {rel}", self._get_sync, self._prefix + rel)

    async def _put(self, rel: str, data: bytes) -> None:
        key = self._prefix + rel
        answer = await self._call(
            f"writing {rel}", self._client.put_object, Bucket=self._bucket, Key=key, Body=data
        )
        self._known[key] = (str(answer.get("ETag", "")), None)
        self._touched.add(key)

    async def _listing(self, prefix: str) -> _Listing:
        listing: _Listing = {}
        request: dict[str, str] = {"Bucket": self._bucket, "Prefix": prefix}
        while True:
            page = await self._call(
                f"listing {prefix or '/'}", self._client.list_objects_v2, **request
            )
            for item in page.get("Contents", ()):
                listing[item["Key"]] = (str(item.get("ETag", "")), str(item.get("LastModified")))
            if not page.get("IsTruncated"):
                return listing
            request["ContinuationToken"] = page["NextContinuationToken"]

    async def _call(self, what: str, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """Run one blocking boto3 call on the pool, bounded by the timeout, errors translated."""
        if self._closed.is_set():
            raise StoreUnavailable(f"s3 {what}: the store is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._timeout):
                return await loop.run_in_executor(
                    self._pool, functools.partial(fn, *args, **kwargs)
                )
        except TimeoutError:
            where = self._redact(self._endpoint)
            raise StoreUnavailable(
                f"s3 {what}: no answer from {where} within {self._timeout}s"
            ) from None
        except Exception as exc:
            raise self._translate(what, exc) from None

    def _translate(self, what: str, exc: Exception) -> Exception:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", "unknown"))
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = f"s3 {what}: {code} (HTTP {status})"
            retry = status >= 500 or status in (408, 429) or code in _RETRYABLE
            return StoreUnavailable(message) if retry else StoreError(message)
        if isinstance(exc, BotoCoreError):
            return StoreUnavailable(f"s3 {what}: {self._redact(str(exc))}")
        return exc

    def _redact(self, text: str) -> str:
        if self._secret_key:
            text = text.replace(self._secret_key, "***")
        return _USERINFO.sub(r"\g<scheme>***@", text)[:500]

    def _make_client(self) -> Any:
        import boto3
        from botocore.config import Config

        config = Config(
            connect_timeout=min(self._timeout, 5.0),
            read_timeout=self._timeout,
            retries={"total_max_attempts": 2, "mode": "standard"},
            max_pool_connections=_WORKERS,
            s3={"addressing_style": "path"},
            # Checksums only where S3 demands them: several S3-compatible stores refuse the rest.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self._endpoint or None,  # None: AWS itself
            region_name=self._region,
            aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key,
            config=config,
        )

    def _ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.head_bucket(Bucket=self._bucket)
            return
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") != 404:
                raise
        where = {} if self._region == "us-east-1" else {"LocationConstraint": self._region}
        extra = {"CreateBucketConfiguration": where} if where else {}
        try:
            self._client.create_bucket(Bucket=self._bucket, **extra)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise

    def _get_sync(self, key: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        with contextlib.closing(answer["Body"]) as body:
            return bytes(body.read())


def _safe(name: str) -> bool:
    try:
        check_name(name)
    except StoreError:
        return False
    return True
