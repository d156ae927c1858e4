"""A webhook worker SIGKILLed mid-delivery loses nothing (issue 17): the receiver holds the
first POST unanswered, the worker's process group is killed while it waits, and a new worker
process takes over: once the attempt's heartbeat is missed (5 s) Temporal retries it, and the
event arrives again with the same `webhook-id`, so the receiver can tell the duplicate."""

from __future__ import annotations

import asyncio

import pytest

from tests.api.harness import Api
from tests.faults.processes import WorkerProcess
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_deliveries import arrived, claim_under_review, register_endpoint

pytestmark = [pytest.mark.faults, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

COMMAND = ("-m", "tests.webhooks.webhook_worker_process")


def webhook_worker_process(api: Api, name: str) -> WorkerProcess:
    settings = api.services.settings
    return WorkerProcess(
        settings,
        name,
        COMMAND,
        {
            "CASHBACK_TEMPORAL_ADDRESS": api.env.client.service_client.config.target_host,
            "CASHBACK_WEBHOOK_ALLOW_LOOPBACK": "true",
            "CASHBACK_WEBHOOK_RETRY_INITIAL_SECONDS": "0.25",
        },
    )


async def test_a_worker_killed_mid_delivery_loses_nothing(api: Api, receiver: Receiver) -> None:
    """Issue 17: SIGKILL while the receiver holds the POST; another worker delivers the same
    event (same `webhook-id`, same body), and the log says delivered."""
    receiver.hold = 1
    first = webhook_worker_process(api, "webhook-worker-1")
    second: WorkerProcess | None = None
    try:
        reseller = await api.register()
        endpoint = await register_endpoint(api, reseller, receiver.url, ["claim.submitted"])
        await claim_under_review(api, reseller)
        await arrived(receiver, lambda got: len(got) >= 1)  # the POST is in flight, held
        first.kill()
        receiver.release.set()
        second = webhook_worker_process(api, "webhook-worker-2")
        held, again = await arrived(receiver, lambda got: len(got) >= 2, seconds=60)
        assert again.webhook_id == held.webhook_id
        assert again.body == held.body
        again.verified_with(endpoint["secret"])
        base = f"/webhooks/endpoints/{endpoint['endpoint_id']}"
        for _ in range(100):
            log = (await api.http.get(f"{base}/deliveries", headers=reseller.headers)).json()
            if log["deliveries"][0]["status"] == "delivered":
                break
            await asyncio.sleep(0.05)
        [delivery] = log["deliveries"]
        assert delivery["status"] == "delivered"
        assert delivery["webhook_id"] == held.webhook_id
    finally:
        receiver.release.set()
        first.kill()
        if second is not None:
            second.stop()
