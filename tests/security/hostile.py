"""Hostile payloads made on the spot, for the security tests: a zip bomb and a gzip bomb (a few MB
that expand to gigabytes; built from repeated deflate blocks, so making them costs little), a
multipart body, and what a refused submission must not leave behind."""

from __future__ import annotations

import struct
import uuid
import zlib
from collections.abc import Iterator

from tests.api.claims_helpers import claim_rows, stored_invoices, workflows
from tests.api.harness import Api

MIB = 1024 * 1024
_ZEROS = bytes(MIB)


def _deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mebibytes` MiB of zero bytes, and its CRC-32. Each MiB is one
    fully flushed block, the same bytes every time: the stream is made by repetition."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(_ZEROS) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # an empty last block
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(_ZEROS, crc)
    return block * mebibytes + final, crc


def zip_bomb(entries: int = 2, mebibytes_each: int = 1536) -> bytes:
    """A ZIP archive of `entries` files named invoice-N.pdf, each `mebibytes_each` MiB of zeros
    once inflated (default: 3 GiB in all, from about 3 MB). No ZIP64: each entry < 4 GiB."""
    assert mebibytes_each * MIB < 2**32
    stream, crc = _deflated_zeros(mebibytes_each)
    size = mebibytes_each * MIB
    local = bytearray()
    central = bytearray()
    for number in range(1, entries + 1):
        name = f"invoice-{number}.pdf".encode()
        offset = len(local)
        local += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream), size, len(name), 0
        )
        local += name + stream
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            len(stream),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, entries, entries, len(central), len(local), 0)
    return bytes(local + central + end)


def gzip_bomb(mebibytes: int = 1024) -> bytes:
    """A gzip member of `mebibytes` MiB of zeros once decoded (default 1 GiB, from about 1 MB)."""
    stream, crc = _deflated_zeros(mebibytes)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + stream + struct.pack("<II", crc, (mebibytes * MIB) % 2**32)


def multipart(
    fields: dict[str, str],
    filename: str,
    content: bytes,
    content_type: str,
    boundary: str | None = None,
) -> tuple[bytes, str]:
    """A multipart/form-data body with the text `fields` and the file `invoice`; its
    Content-Type (with the boundary)."""
    boundary = boundary or f"hostile-{uuid.uuid4().hex}"
    body = bytearray()
    for name, value in fields.items():
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    body += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="invoice"; filename="{filename}"'
        f"\r\nContent-Type: {content_type}\r\n\r\n"
    ).encode()
    body += content + f"\r\n--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


def oversized_form(fields: dict[str, str], total: int, boundary: str) -> Iterator[bytes]:
    """A multipart form of `total` bytes whose invoice (a PDF header, then zeros) makes it too
    large, in chunks of 256 KiB: what a client streams."""
    head, _ = multipart(fields, "invoice.pdf", b"%PDF-", "application/pdf", boundary)
    tail = f"\r\n--{boundary}--\r\n".encode()
    head = head[: -len(tail)]
    yield head
    left = total - len(head) - len(tail)
    while left > 0:
        chunk = min(256 * 1024, left)
        yield bytes(chunk)
        left -= chunk
    yield tail


async def nothing_stored(api: Api) -> None:
    """No claim row, no invoice in the store, no workflow on the test's task queue."""
    assert claim_rows(api) == []
    assert stored_invoices(api) == []
    assert await workflows(api) == []
