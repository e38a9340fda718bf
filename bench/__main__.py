"""`python -m bench run [--scale S|M] [--only NAME…] [--reuse]`: start the servers, run every benchmark, print a
table and write docs/benchmarks.md. `python -m bench generate --scale M` only fills the database (for a later
`run --reuse`)."""

from __future__ import annotations

import argparse
import sys

DATABASE = "postgresql+psycopg://postgres@127.0.0.1:5432/careloop_bench"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="run the benchmarks")
    run_parser.add_argument("--scale", choices=["S", "M"], default="S")
    run_parser.add_argument("--only", nargs="*", default=None, help="benchmark names to run")
    run_parser.add_argument("--database", default=None, help=f"default: {DATABASE}[_m]")
    run_parser.add_argument("--redis", default="redis://127.0.0.1:6379/5")
    run_parser.add_argument("--reuse", action="store_true", help="reuse the data generated earlier at this scale")
    run_parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    gen_parser = sub.add_parser("generate", help="only generate the data")
    gen_parser.add_argument("--scale", choices=["S", "M"], default="M")
    gen_parser.add_argument("--database", default=None)
    args = parser.parse_args(argv)
    database = args.database or (DATABASE + ("_m" if args.scale == "M" else ""))
    if args.command == "generate":
        from bench.generate import SCALES, generate, save_population

        population = generate(database, SCALES[args.scale])
        save_population(database, population)
        print(f"{population.patients:,} patients, {population.counts()} in {population.seconds:.0f} s")
        return 0
    from bench.run import run

    return run(scale=args.scale, only=args.only, database_url=database, redis_url=args.redis,
               write=not args.no_write, reuse=args.reuse)


if __name__ == "__main__":
    sys.exit(main())
