"""Decode OTLP/HTTP request bodies and encode the responses.

Both OTLP/HTTP encodings are supported: binary protobuf (``application/x-protobuf``)
and OTLP/JSON (``application/json``), optionally ``gzip`` or ``deflate`` compressed.

OTLP/JSON is the proto3 JSON mapping with deviations that ``json_format`` alone would
get wrong: ``traceId``, ``spanId`` and ``parentSpanId`` (in spans, links, log records,
exemplars) are hex strings, not base64. They are rewritten to base64 before parsing,
guided by the message descriptors, so an attribute that happens to be called
``traceId`` is never touched. A non-hex id is accepted as base64 (what plain protobuf
JSON writers send) only if it decodes to exactly 16/8 bytes; otherwise it is bad data.
Unknown fields are ignored, as the OTLP spec requires. Enum values may be integers
and 64-bit integers strings, which ``json_format`` already accepts.

Every failure raises :class:`OtlpDecodeError` carrying the HTTP status to answer.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from typing import Any, Final, Literal

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status

from contexta.collector.sink import REQUEST_TYPES, Signal
from contexta.errors import TransportError

Encoding = Literal["protobuf", "json"]
CONTENT_TYPES: Final[dict[Encoding, str]] = {
    "protobuf": "application/x-protobuf",
    "json": "application/json",
}
_MEDIA_TYPES: Final[dict[str, Encoding]] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}
_ID_SIZES: Final[dict[str, int]] = {"trace_id": 16, "span_id": 8, "parent_span_id": 8}
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")


class OtlpDecodeError(TransportError):
    """A request the collector cannot accept; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_content_type(value: str | None) -> Encoding:
    """Map a ``Content-Type`` header to an encoding; anything else is HTTP 415."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    try:
        return _MEDIA_TYPES[media_type]
    except KeyError:
        supported = ", ".join(CONTENT_TYPES.values())
        raise OtlpDecodeError(
            f"unsupported Content-Type {value!r}; use one of: {supported}", status=415
        ) from None


def decompress(body: bytes, content_encoding: str | None, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding`` (identity, gzip, deflate); the result is at most ``max_bytes``."""
    coding = (content_encoding or "identity").strip().lower()
    if coding in ("identity", ""):
        return body
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, max_bytes, multi_member=True)
    if coding == "deflate":
        try:  # RFC 9110 deflate is zlib-wrapped; some clients send raw deflate
            return _inflate(body, zlib.MAX_WBITS, max_bytes, multi_member=False)
        except OtlpDecodeError as exc:
            if exc.status != 400:
                raise
            return _inflate(body, -zlib.MAX_WBITS, max_bytes, multi_member=False)
    raise OtlpDecodeError(
        f"unsupported Content-Encoding {content_encoding!r}; use gzip, deflate or none", status=415
    )


def _inflate(data: bytes, wbits: int, max_bytes: int, *, multi_member: bool) -> bytes:
    out = bytearray()
    while True:
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(data, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise OtlpDecodeError(f"body is not valid {_coding_name(wbits)} data: {exc}") from exc
        if len(out) > max_bytes:
            raise OtlpDecodeError(f"decompressed body exceeds the limit of {max_bytes} bytes", status=413)
        if not inflater.eof:
            raise OtlpDecodeError(f"body is truncated {_coding_name(wbits)} data")
        data = inflater.unused_data
        if not (multi_member and data):
            return bytes(out)


def _coding_name(wbits: int) -> str:
    return "gzip" if wbits > zlib.MAX_WBITS else "deflate"


def decode_request(signal: Signal, body: bytes, encoding: Encoding) -> Message:
    """Parse an uncompressed body into the ``Export<Signal>ServiceRequest`` message."""
    request_type = REQUEST_TYPES[signal]
    if encoding == "protobuf":
        try:
            return request_type.FromString(body)
        except DecodeError as exc:
            raise OtlpDecodeError(f"body is not a valid {request_type.__name__} protobuf: {exc}") from exc
    if not body.strip():
        return request_type()  # an empty request is a valid (empty) export
    try:
        document = json.loads(body)
        if not isinstance(document, dict):
            raise OtlpDecodeError(f"OTLP/JSON body must be a JSON object, not {type(document).__name__}")
        _convert_ids(document, request_type.DESCRIPTOR, "$")
        return json_format.ParseDict(document, request_type(), ignore_unknown_fields=True)
    except RecursionError as exc:
        raise OtlpDecodeError("OTLP/JSON body is nested too deeply") from exc
    except json_format.ParseError as exc:
        raise OtlpDecodeError(f"body is not a valid OTLP/JSON {request_type.__name__}: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError
        raise OtlpDecodeError(f"body is not valid JSON: {exc}") from exc


def encode_message(message: Message, encoding: Encoding) -> bytes:
    """Serialise a response message in the encoding of the request."""
    if encoding == "json":
        return json_format.MessageToJson(message, indent=None).encode("utf-8")
    return message.SerializeToString()


def encode_status(code: int, message: str, encoding: Encoding) -> bytes:
    """The ``google.rpc.Status`` body OTLP/HTTP requires for every 4xx/5xx answer."""
    return encode_message(Status(code=code, message=message), encoding)


def _convert_ids(document: dict[str, Any], descriptor: Descriptor, path: str) -> None:
    """Rewrite hex id fields of ``document`` (a message of ``descriptor``) to base64 in place."""
    fields = _fields_by_json_key(descriptor)
    for key, value in list(document.items()):
        field = fields.get(key)
        if field is None:
            continue
        if field.type == FieldDescriptor.TYPE_BYTES and field.name in _ID_SIZES:
            document[key] = _id_to_base64(value, field.name, f"{path}.{key}")
        elif field.message_type is not None and field.message_type.full_name in _MESSAGES_WITH_IDS:
            if field.is_repeated and isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, dict):
                        _convert_ids(item, field.message_type, f"{path}.{key}[{index}]")
            elif isinstance(value, dict):
                _convert_ids(value, field.message_type, f"{path}.{key}")


def _id_to_base64(value: Any, field_name: str, path: str) -> Any:
    if not isinstance(value, str):
        return value  # null or a wrong type: json_format reports it
    if _HEX.fullmatch(value):
        raw = bytes.fromhex(value)
    else:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != _ID_SIZES[field_name]:
            size = _ID_SIZES[field_name]
            raise OtlpDecodeError(
                f"{path}: expected a hex id of {size} bytes ({2 * size} hex digits), got {value[:80]!r}"
            )
    return base64.b64encode(raw).decode("ascii")


_JSON_KEYS: dict[str, dict[str, FieldDescriptor]] = {}


def _fields_by_json_key(descriptor: Descriptor) -> dict[str, FieldDescriptor]:
    fields = _JSON_KEYS.get(descriptor.full_name)
    if fields is None:  # lowerCamelCase per OTLP/JSON; json_format also accepts proto names
        fields = {f.name: f for f in descriptor.fields} | {f.json_name: f for f in descriptor.fields}
        _JSON_KEYS[descriptor.full_name] = fields
    return fields


def _find_messages_with_ids() -> frozenset[str]:
    """Full names of the message types that contain an id field, directly or nested."""
    reachable: dict[str, Descriptor] = {}
    pending = [t.DESCRIPTOR for t in REQUEST_TYPES.values()]
    while pending:
        descriptor = pending.pop()
        if descriptor.full_name not in reachable:
            reachable[descriptor.full_name] = descriptor
            pending.extend(f.message_type for f in descriptor.fields if f.message_type is not None)
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, descriptor in reachable.items():
            if name not in found and any(
                (f.type == FieldDescriptor.TYPE_BYTES and f.name in _ID_SIZES)
                or (f.message_type is not None and f.message_type.full_name in found)
                for f in descriptor.fields
            ):
                found.add(name)
                changed = True
    return frozenset(found)


_MESSAGES_WITH_IDS: Final = _find_messages_with_ids()
