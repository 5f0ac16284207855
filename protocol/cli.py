"""``doorstep protocol``: regenerate the published protocol documents, decode a capture.

Light on purpose: the generator and the codec are imported inside the handlers.

    $ doorstep protocol schemas                 # rewrite docs/protocol/ from the models
    $ doorstep protocol schemas --check         # exit 1 and name the stale files
    $ doorstep protocol decode doorstep/v1/door-1a2b3c/state payload.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# The committed copies live in the source checkout, beside the package.
_CHECKOUT_DOCS = Path(__file__).resolve().parent.parent / "docs"


def register(subparsers: Any) -> None:
    """Add ``protocol schemas`` and ``protocol decode`` to the ``doorstep`` command."""
    parser = subparsers.add_parser("protocol", help="the open device protocol: schemas, decoding")
    sub = parser.add_subparsers(dest="protocol_command", metavar="ACTION", required=True)

    schemas = sub.add_parser(
        "schemas", help="write the JSON Schemas and the AsyncAPI document generated from the models"
    )
    schemas.add_argument(
        "--out", type=Path, default=None, help="output folder (default: docs/protocol/ here)"
    )
    schemas.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming files that are stale"
    )
    schemas.set_defaults(handler=_schemas)

    decode = sub.add_parser("decode", help="decode one captured payload, or say what is wrong")
    decode.add_argument("topic", help="the MQTT topic it arrived on")
    decode.add_argument("file", help="file holding the raw payload ('-' reads standard input)")
    decode.add_argument(
        "--content-type", help="MQTT v5 content type (default: the one the topic kind needs)"
    )
    decode.add_argument(
        "--meta", type=Path, help="snapshots: file holding the doorstep-meta user property"
    )
    decode.add_argument(
        "--key", type=Path, help="commands/acks: signer's PEM public key, to verify and open"
    )
    decode.set_defaults(handler=_decode)


def _out_dir(args: argparse.Namespace) -> Path | None:
    if args.out is not None:
        return args.out
    if not _CHECKOUT_DOCS.is_dir():
        print(
            f"no docs/ folder at {_CHECKOUT_DOCS} (installed copy?): pass --out DIR",
            file=sys.stderr,
        )
        return None
    return _CHECKOUT_DOCS / "protocol"


def _schemas(args: argparse.Namespace) -> int:
    from .spec import generate, stale_files, write

    out = _out_dir(args)
    if out is None:
        return 2
    files = generate()
    if args.check:
        stale = stale_files(out, files)
        if stale:
            print(f"stale protocol documents in {out}:", file=sys.stderr)
            for rel in stale:
                print(f"  {rel}", file=sys.stderr)
            print("regenerate them with: doorstep protocol schemas", file=sys.stderr)
            return 1
        print(f"{len(files)} protocol documents in {out} are up to date")
        return 0
    changed = write(files, out)
    print(f"{len(changed)} of {len(files)} protocol documents written to {out}")
    for rel in changed:
        print(f"  {rel}")
    return 0


def _decode(args: argparse.Namespace) -> int:
    from .codec import JSON_CONTENT_TYPE, WireProperties, decode
    from .errors import ProtocolError
    from .signing import SignedEnvelope, load_public_key, open_ack, open_command
    from .snapshots import SNAPSHOT_CONTENT_TYPE, SNAPSHOT_META_PROPERTY, Snapshot
    from .topics import TopicKind

    try:
        payload = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        meta = None if args.meta is None else args.meta.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"cannot read input: {exc}", file=sys.stderr)
        return 2
    user = () if meta is None else ((SNAPSHOT_META_PROPERTY, meta),)
    is_snapshot = f"/{TopicKind.SNAPSHOT.value}/" in args.topic
    default_type = SNAPSHOT_CONTENT_TYPE if is_snapshot else JSON_CONTENT_TYPE
    props = WireProperties(content_type=args.content_type or default_type, user_properties=user)
    try:
        decoded = decode(args.topic, payload, props)
        message = decoded.message
        report: dict[str, Any] = {
            "topic": args.topic,
            "device": decoded.topic.device_id,
            "type": type(message).__name__,
        }
        if isinstance(message, Snapshot):
            report["message"] = message.meta.model_dump(mode="json")
        else:
            report["message"] = message.model_dump(mode="json")
        if isinstance(message, SignedEnvelope) and args.key is not None:
            key = load_public_key(args.key)
            opener = open_command if decoded.topic.kind is TopicKind.COMMAND else open_ack
            opened = opener(message, key, decoded.topic.device_id)
            report["signed"] = {"type": type(opened).__name__, **opened.model_dump(mode="json")}
    except ProtocolError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0
