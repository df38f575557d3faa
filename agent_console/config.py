"""Console timings and limits. Defaults suit a real floor; tests and benches replace the object
in `runtime.extras["console_config"]` (they never read the environment)."""

from __future__ import annotations

from dataclasses import dataclass

from core.runtime import Runtime

EXTRA_KEY = "console_config"


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    token_ttl_s: int = 15 * 60  # short-lived: the console refreshes while the agent works
    offer_timeout_s: float = 20.0  # how long an offer stays reserved for one agent
    wrap_up_s: float = 120.0  # after-conversation work before the wrap-up closes itself
    route_tick_s: float = 0.5  # the routing loop's heartbeat when nothing kicks it
    away_on_missed_offer: bool = True  # an agent who lets an offer lapse is probably not there
    overflow_after_s: float = 300.0  # then any available agent may take another skill's entry
    default_handle_s: float = 360.0  # handle time for wait estimates before history exists
    send_queue_max: int = 2000  # events a connection may fall behind before it is dropped
    replay_limit: int = 5000  # events a reconnect replays; beyond, the client resyncs
    hello_timeout_s: float = 10.0  # a socket that never authenticates is closed
    repair_interval_s: float = 0.5  # how often a process looks for events the bus lost
    repair_grace_s: float = 1.0  # how long a hole in the event ids may wait for the bus
    event_retention_s: float = 3 * 86400.0  # older events are pruned; a longer absence resyncs
    prune_every_s: float = 600.0


def console_config(runtime: Runtime) -> ConsoleConfig:
    found = runtime.extras.get(EXTRA_KEY)
    if found is None:
        found = runtime.extras[EXTRA_KEY] = ConsoleConfig()
    return found
