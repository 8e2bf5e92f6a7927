"""`credit-risk` command line.

credit-risk db start|stop|status|url
credit-risk env -- CMD ...                 run CMD with the project environment
credit-risk generate --out DIR --scale S --seed N [--through YYYY-MM] [--defects]
credit-risk generate --extend DIR
credit-risk run --landing DIR --as-of YYYY-MM-DD
credit-risk approve --as-of YYYY-MM-DD --reason TEXT
credit-risk plan verify PLAN_ID
credit-risk airflow up|down
credit-risk demo
credit-risk bench --scale medium|full [--loader [--workers 1,2]]
credit-risk calibrate [--as-of YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import os
import subprocess
import sys
from pathlib import Path


def _date(s: str) -> dt.date:
    try:
        return dt.date.fromisoformat(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {s}") from e


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="credit-risk", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="cmd", required=True)

    d = sub.add_parser("db", help="the warehouse server")
    d.add_argument("action", choices=["start", "stop", "status", "url", "restart"])
    d.add_argument("--quiet", action="store_true")

    e = sub.add_parser("env", help="run a command with the project environment")
    e.add_argument("command", nargs=argparse.REMAINDER)

    g = sub.add_parser("generate", help="write a synthetic landing zone")
    g.add_argument("--out", type=Path)
    g.add_argument("--scale", default="tiny", choices=["tiny", "small", "medium", "full"])
    g.add_argument("--seed", type=int, default=1)
    g.add_argument("--through", default="2025-06", help="last delivery month YYYY-MM")
    g.add_argument("--defects", action="store_true")
    g.add_argument("--extend", type=Path, help="add the next month's deliveries to this landing zone")

    r = sub.add_parser("run", help="run the pipeline's DAGs in order (in process) for one as_of")
    r.add_argument("--landing", type=Path, required=True)
    r.add_argument("--as-of", type=_date, required=True)
    r.add_argument(
        "--skip", action="append", default=[], help="skip a stage (ingest, build, supervision, exports)"
    )

    a = sub.add_parser("approve", help="record a drift approval for an as_of")
    a.add_argument("--as-of", type=_date, required=True)
    a.add_argument("--reason", required=True)
    a.add_argument("--by", default=getpass.getuser())

    pl = sub.add_parser("plan", help="spot-check plans")
    pl.add_argument("action", choices=["verify"])
    pl.add_argument("plan_id")

    af = sub.add_parser("airflow", help="Airflow services")
    af.add_argument("action", choices=["up", "down", "status"])

    sub.add_parser("demo", help="generate a small landing zone and run the whole pipeline")

    b = sub.add_parser("bench", help="end-to-end benchmark")
    b.add_argument("--scale", default="medium", choices=["tiny", "small", "medium", "full"])
    b.add_argument("--keep", action="store_true", help="keep the landing zone and warehouse afterwards")
    b.add_argument("--landing", type=Path, help="reuse a landing zone generated beforehand")
    b.add_argument(
        "--loader",
        action="store_true",
        help="benchmark the loader alone against raw COPY, once per worker count (results <scale>-loader.json)",
    )
    b.add_argument("--workers", default="1,2", help="with --loader: worker process counts, comma-separated")

    c = sub.add_parser(
        "calibrate", help="class shares and D share per latent-risk decile of the published run"
    )
    c.add_argument("--landing", type=Path)
    c.add_argument("--as-of", type=_date)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from credit_risk import db

    if args.cmd == "db":
        if args.action == "start":
            from credit_risk import security

            url = db.start(quiet=args.quiet)
            security.setup()  # roles, grants, ownerships, row-level security
            if not args.quiet:
                print(f"warehouse: {url.url}")
        elif args.action == "stop":
            db.stop()
            print(db.status())
        elif args.action == "restart":
            db.stop()
            db.start(quiet=True)
            print(db.status())
        elif args.action == "status":
            print(db.status())
        else:
            print(db.warehouse_url().url)
        return 0

    if args.cmd == "env":
        from credit_risk import airflow_env, security

        db.start(quiet=True)
        security.setup()  # dbt run from here connects as the transformer role
        env = {**os.environ, **airflow_env.project_env()}
        cmd = [c for c in args.command if c != "--"]
        if not cmd:
            for k, v in sorted(airflow_env.project_env().items()):
                print(f"export {k}={v!r}")
            return 0
        return subprocess.call(cmd, env=env)

    if args.cmd == "generate":
        from credit_risk import generator

        if args.extend:
            generator.extend(args.extend)
        else:
            if not args.out:
                print("generate: --out DIR is required (or --extend DIR)", file=sys.stderr)
                return 2
            generator.generate(
                args.out, scale=args.scale, seed=args.seed, through=args.through, defects=args.defects
            )
        return 0

    if args.cmd == "run":
        from credit_risk import runner

        return runner.run_pipeline(args.landing, args.as_of, skip=set(args.skip))

    if args.cmd == "approve":
        db.start(quiet=True)
        from credit_risk.gates import publish

        publish.approve(args.as_of, args.reason, args.by)
        print(f"drift approval recorded for {args.as_of} by {args.by}")
        return 0

    if args.cmd == "plan":
        db.start(quiet=True)
        from credit_risk.supervision import plans

        ok = plans.verify(args.plan_id)
        return 0 if ok else 1

    if args.cmd == "airflow":
        from credit_risk import services

        return services.main(args.action)

    if args.cmd == "demo":
        from credit_risk import demo

        return demo.main()

    if args.cmd == "bench":
        from credit_risk import bench

        if args.loader:
            counts = tuple(int(w) for w in args.workers.split(","))
            return bench.loader(args.scale, counts, landing_in=args.landing)
        return bench.main(args.scale, keep=args.keep, landing_in=args.landing)

    if args.cmd == "calibrate":
        from credit_risk import calibrate

        return calibrate.main(args.landing, args.as_of)
    return 2


if __name__ == "__main__":
    sys.exit(main())
