"""A local Twilio Messages API for storm tests, benchmarks and drills: a real HTTP server that
enforces a per-sender rate like Twilio's queue does, injects 429/500 bursts, and records every
message it accepted with the time it did. Never wired in production.

Run it: `python -m integrations.fake_twilio --port 9911 --mps 100 --inject-429 0.02`, then point
the app at it with TWILIO_API_BASE=http://127.0.0.1:9911 (any TWILIO_ACCOUNT_SID/AUTH_TOKEN).
"""

from integrations.fake_twilio.server import FakeTwilioApi, FakeTwilioConfig

__all__ = ["FakeTwilioApi", "FakeTwilioConfig"]
