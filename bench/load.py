"""The load generator, run as its own process: open-loop requests at a fixed offered rate (latency
percentiles) and closed-loop requests from N connections (throughput). Prints one JSON line."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import statistics
import sys
import time
from typing import Any

import httpx
from twilio.request_validator import RequestValidator


class Requests:
    """Builds the request for one call: the CareLoop API or webhook, or the bare baseline."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.counter = itertools.count(1)
        self.rng = random.Random(11)
        self.validator = RequestValidator(args.sms_token)
        self.phones = args.phones.split(",") if args.phones else []
        self.patients = [int(p) for p in args.patients.split(",")] if args.patients else [1]

    def build(self) -> tuple[str, dict[str, Any]]:
        n = next(self.counter)
        value = round(self.rng.uniform(5.0, 9.5), 1)
        if self.args.target == "api":
            return "/api/v1/readings", {"json": {
                "patient_id": self.rng.choice(self.patients), "kind": "glucose", "value": value, "unit": "mmol/L",
                "context": "fasting", "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())},
                "headers": {"Authorization": f"Bearer {self.args.token}"}}
        if self.args.target == "bare-api":
            return "/bare/readings", {"json": {"patient_id": self.rng.choice(self.patients), "value": value}}
        params = {"MessageSid": f"SM{self.args.run_id}{n:026d}"[:34], "AccountSid": "AC" + "0" * 32,
                  "From": self.rng.choice(self.phones) if self.phones else "+8613800000001", "To": "+15005550006",
                  "Body": f"血糖{value}", "NumMedia": "0"}
        if self.args.target == "bare-sms":
            return "/bare/sms", {"data": {**params, "PatientId": str(self.rng.choice(self.patients))}}
        signature = self.validator.compute_signature(self.args.public_url + "/sms/twilio", params)
        return "/sms/twilio", {"data": params, "headers": {"X-Twilio-Signature": signature}}


async def _one(client: httpx.AsyncClient, requests: Requests, latencies: list[float], failures: list[int]) -> None:
    path, kwargs = requests.build()
    started = time.perf_counter()
    try:
        response = await client.post(path, **kwargs)
        if response.status_code >= 300:
            failures.append(response.status_code)
    except httpx.HTTPError:
        failures.append(0)
    latencies.append(time.perf_counter() - started)


async def open_loop(args: argparse.Namespace) -> dict[str, Any]:
    requests = Requests(args)
    latencies: list[float] = []
    failures: list[int] = []
    total = int(args.rate * args.duration)
    async with httpx.AsyncClient(base_url=args.url, timeout=30, limits=httpx.Limits(max_connections=200)) as client:
        started = time.perf_counter()
        tasks = []
        for i in range(total):
            delay = started + i / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(client, requests, latencies, failures)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - started
    return _summary(latencies, failures, elapsed)


async def closed_loop(args: argparse.Namespace) -> dict[str, Any]:
    requests = Requests(args)
    latencies: list[float] = []
    failures: list[int] = []
    deadline = time.perf_counter() + args.duration

    async def worker(client: httpx.AsyncClient) -> None:
        while time.perf_counter() < deadline:
            await _one(client, requests, latencies, failures)

    async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    return _summary(latencies, failures, elapsed)


def _summary(latencies: list[float], failures: list[int], elapsed: float) -> dict[str, Any]:
    ordered = sorted(latencies) or [0.0]

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    answered = len(latencies) - len(failures)  # only successful requests count as throughput
    return {"requests": len(latencies), "failures": len(failures), "failure_codes": sorted(set(failures))[:5],
            "seconds": elapsed, "throughput": answered / elapsed if elapsed else 0.0,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": statistics.fmean(ordered) * 1000}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    parser.add_argument("--url", required=True)
    parser.add_argument("--target", choices=["api", "sms", "bare-api", "bare-sms"], required=True)
    parser.add_argument("--mode", choices=["open", "closed"], default="closed")
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--token", default="")
    parser.add_argument("--sms-token", default="development-sms-token")
    parser.add_argument("--public-url", default="")
    parser.add_argument("--phones", default="")
    parser.add_argument("--patients", default="")
    parser.add_argument("--run-id", default="0")
    args = parser.parse_args(argv)
    result = asyncio.run(open_loop(args) if args.mode == "open" else closed_loop(args))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
