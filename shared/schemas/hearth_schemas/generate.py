"""Generate the checked-in JSON Schema files and the AsyncAPI 3 document from the models.

`python -m hearth_schemas.generate` writes them; `--check` exits non-zero when they are stale.
`--release` also copies the current schemas into `released/`, the baseline that the
compatibility test compares against.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .base import Event
from .registry import ALL_EVENTS
from .topics import CLAIMS_LINES, SERVICES, dead_letter_topic, events_topic

ROOT = Path(__file__).resolve().parent.parent
JSON_DIR = ROOT / "json"
RELEASED_DIR = ROOT / "released"
ASYNCAPI_PATH = ROOT / "asyncapi.json"

CLOUDEVENTS_HEADERS: dict[str, Any] = {
    "type": "object",
    "description": "CloudEvents 1.0 Kafka binary-mode headers (UTF-8 strings).",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"],
    "properties": {
        "ce_specversion": {"const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique with ce_source: the deduplication key."},
        "ce_source": {"type": "string", "examples": ["/hearth/referral"]},
        "ce_type": {"type": "string", "examples": ["hearth.referral.ReferralReceived.v1"]},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string", "description": "Member id (or the aggregate id)."},
        "ce_dataschema": {"type": "string", "format": "uri"},
        "ce_correlationid": {"type": "string"},
        "ce_causationid": {"type": "string"},
        "traceparent": {"type": "string", "description": "W3C trace context."},
        "content-type": {"const": "application/json"},
    },
}


def event_schema(event: type[Event]) -> dict[str, Any]:
    schema = event.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": event.dataschema(),
        "x-cloudevents-type": event.event_type(),
        "x-topic": event.topic(),
        **schema,
    }


def asyncapi_document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEventsHeaders": CLOUDEVENTS_HEADERS}
    by_topic: dict[str, list[type[Event]]] = {}
    for event in ALL_EVENTS:
        by_topic.setdefault(event.topic(), []).append(event)
        key = f"{event.service}.{event.name}.v{event.version}"
        payload = event.model_json_schema(mode="serialization", ref_template="#/components/schemas/{model}")
        schemas.update(payload.pop("$defs", {}))
        schemas[key] = payload
        messages[key] = {
            "name": event.event_type(),
            "title": event.name,
            "summary": (event.__doc__ or event.name).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
            "payload": {"$ref": f"#/components/schemas/{key}"},
            "bindings": {"kafka": {"key": {"type": "string", "description": event.subject_field}}},
        }
    for topic, events in by_topic.items():
        producer = (
            "the plan's data platform" if topic == CLAIMS_LINES else f"the {topic.split('.')[0]} service"
        )
        channels[topic] = {
            "address": topic,
            "description": f"Written only by {producer}. Record key: the member id (or aggregate id).",
            "messages": {
                f"{e.service}.{e.name}.v{e.version}": {
                    "$ref": f"#/components/messages/{e.service}.{e.name}.v{e.version}"
                }
                for e in events
            },
        }
        operations[f"publish.{topic}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{topic}"},
            "messages": [
                {"$ref": f"#/channels/{topic}/messages/{e.service}.{e.name}.v{e.version}"} for e in events
            ],
        }
    for service in SERVICES:
        dlq = dead_letter_topic(service)
        channels[dlq] = {
            "address": dlq,
            "description": (
                f"Dead letters of the {service} service's consumers: the original key, value and "
                "headers, plus hearth_dlq_reason, hearth_dlq_topic, hearth_dlq_partition, "
                "hearth_dlq_offset and hearth_dlq_group headers."
            ),
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Hearth events",
            "version": "1.0.0",
            "description": (
                "Events of the Hearth palliative care platform. CloudEvents 1.0 in Kafka binary "
                f"mode; one topic per service ({', '.join(events_topic(s) for s in SERVICES)}) "
                "plus claims.lines; record key = member id so one member's events stay in order."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"embedded": {"host": "127.0.0.1:9092", "protocol": "kafka", "description": "make up"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def rendered() -> dict[Path, str]:
    files = {
        JSON_DIR / e.schema_filename(): json.dumps(event_schema(e), indent=2, sort_keys=True) + "\n"
        for e in ALL_EVENTS
    }
    files[ASYNCAPI_PATH] = json.dumps(asyncapi_document(), indent=2) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the checked-in files are stale")
    parser.add_argument("--release", action="store_true", help="record the current schemas as released")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text() != text]
        if stale:
            print("stale generated files (run `make schemas`):\n  " + "\n  ".join(stale))
            return 1
        return 0
    JSON_DIR.mkdir(exist_ok=True)
    for path, text in files.items():
        path.write_text(text)
    if args.release:
        RELEASED_DIR.mkdir(exist_ok=True)
        for event in ALL_EVENTS:
            target = RELEASED_DIR / event.schema_filename()
            if not target.exists():
                target.write_text(files[JSON_DIR / event.schema_filename()])
    print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
