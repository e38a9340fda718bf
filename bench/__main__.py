"""`python -m bench run [--scale S|M] [--only NAME…]`: start the servers, run every benchmark, print a
table and write docs/benchmarks.md."""

from __future__ import annotations

import argparse
import sys

from bench.run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the benchmarks")
    run_parser.add_argument("--scale", choices=["S", "M"], default="S")
    run_parser.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    run_parser.add_argument("--database", default="postgresql+psycopg://postgres@127.0.0.1:5432/careloop_bench")
    run_parser.add_argument("--redis", default="redis://127.0.0.1:6379/12")
    run_parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args(argv)
    return run(scale=args.scale, only=args.only, database_url=args.database, redis_url=args.redis,
               write=not args.no_write)


if __name__ == "__main__":
    sys.exit(main())
