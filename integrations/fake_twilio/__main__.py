"""`python -m integrations.fake_twilio`: serve the fake Messages API on a local port."""

from __future__ import annotations

import argparse

import uvicorn

from integrations.fake_twilio.server import FakeTwilioApi, FakeTwilioConfig


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m integrations.fake_twilio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9911)
    parser.add_argument("--mps", type=float, default=100.0, help="per From number")
    parser.add_argument("--inject-429", type=float, default=0.0)
    parser.add_argument("--inject-500", type=float, default=0.0)
    parser.add_argument("--burst-every", type=float, default=0.0)
    parser.add_argument("--burst-for", type=float, default=0.0)
    args = parser.parse_args()
    api = FakeTwilioApi(FakeTwilioConfig(mps=args.mps, inject_429=args.inject_429,
                                         inject_500=args.inject_500,
                                         burst_every_s=args.burst_every,
                                         burst_for_s=args.burst_for))
    uvicorn.run(api.app(), host=args.host, port=args.port, log_level="warning",
                access_log=False)


if __name__ == "__main__":
    main()
