"""Write the sample contact trace records (CTRs) beside the sample calls, as Kinesis Firehose
delivers them: JSON objects back to back with no separator, several per object, under
``ctr/YYYY/MM/DD/HH/``. The fourth sample call deliberately has no CTR. Run from the repo root."""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path("pipeline/samples/ctr")
REC = "acme-connect-recordings/connect/acme-demo/CallRecordings/2026/11/22"
AGENTS = {"sarah.k": "arn:aws:connect:eu-west-1:123456789012:instance/acme-demo/agent/0a1b",
          "mike.t": "arn:aws:connect:eu-west-1:123456789012:instance/acme-demo/agent/0c2d"}
CALLS = [  # contact id, file stamp, start, end, agent, queue
    ("3f1c9a52-7d4e-4b8a-9c61-2a7e5d0b1c01", "20261122T09:12", "2026-11-22T09:11:31Z", "2026-11-22T09:13:02Z", "sarah.k", "Billing"),
    ("8b2d4e61-1a3f-4c7d-b5e9-6f0a2c3d4e02", "20261122T10:47", "2026-11-22T10:46:40Z", "2026-11-22T10:47:55Z", "sarah.k", "Roaming"),
    ("c4e5f607-2b1a-4d3c-8e9f-0a1b2c3d4e03", "20261122T13:05", "2026-11-22T13:04:20Z", "2026-11-22T13:05:45Z", "mike.t", "Billing"),
]


ATTRIBUTES = {
    "3f1c9a52-7d4e-4b8a-9c61-2a7e5d0b1c01": {"intent": "billing_question", "customerTier": "gold", "ivrChoice": "2"},
    "8b2d4e61-1a3f-4c7d-b5e9-6f0a2c3d4e02": {"intent": "outage", "customerTier": "standard", "ivrChoice": "3"},
    "c4e5f607-2b1a-4d3c-8e9f-0a1b2c3d4e03": {"intent": "cancel", "customerTier": "standard"},
}


def record(contact_id, stamp, start, end, agent, queue, updated):
    return {
        "AWSAccountId": "123456789012", "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": {"ARN": AGENTS[agent], "Username": agent, "ConnectedToAgentTimestamp": start,
                  "AgentInteractionDuration": 60, "HierarchyGroups": None, "RoutingProfile": {"Name": "Basic"}},
        "Channel": "VOICE", "ContactId": contact_id, "InitiationMethod": "INBOUND",
        "InitiationTimestamp": start, "DisconnectTimestamp": end, "LastUpdateTimestamp": updated,
        "Queue": {"Name": queue, "ARN": f"arn:aws:connect:eu-west-1:123456789012:instance/acme-demo/queue/{queue}",
                  "EnqueueTimestamp": start, "Duration": 12},
        "Recording": {"Location": f"{REC}/{contact_id}_{stamp}_UTC.wav", "Status": "AVAILABLE", "Type": "AUDIO"},
        "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+15555550100"},
        # Set in the contact flow (an IVR choice, a Lambda's lookup): what analysts slice by.
        "Attributes": ATTRIBUTES[contact_id],
    }


def main() -> None:
    morning = [record(*c, updated=c[3]) for c in CALLS[:2]]
    stale = record(*CALLS[2][:4], "sarah.k", "Billing", updated="2026-11-22T13:05:00Z")  # superseded below
    afternoon = [stale, record(*CALLS[2], updated="2026-11-22T13:06:10Z")]
    for hour, records in (("10", morning), ("13", afternoon)):
        folder = ROOT / "2026" / "11" / "22" / hour
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"acme-ctr-stream-1-2026-11-22-{hour}-00-00-demo").write_text("".join(json.dumps(r) for r in records))


if __name__ == "__main__":
    main()
