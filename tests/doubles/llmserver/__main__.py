"""`python -m tests.doubles.llmserver`: the fake LLM server in its own process (benchmarks, the demo)."""

from __future__ import annotations

import argparse
import importlib
import sys

from tests.doubles.llmserver._server import FakeLLMServer, Handler


def load_handler(spec: str) -> Handler:
    """`module:function` to the function."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise SystemExit(f"--handler must look like module:function, got {spec!r}")
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--handler", default=None, help="module:function answering each request")
    parser.add_argument("--no-json-schema", action="store_true", help="reject response_format json_schema (400)")
    parser.add_argument("--no-record", action="store_true", help="count requests without keeping their bodies")
    args = parser.parse_args(argv)
    server = FakeLLMServer(
        load_handler(args.handler) if args.handler else None,
        latency=args.latency,
        json_schema_supported=not args.no_json_schema,
        record=not args.no_record,
        host=args.host,
        port=args.port,
    )
    server.bind()
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
