"""`fhir.toml` read once: the identifier systems, codes and Task status table of the referral
service's FHIR edge (data with a version, not constants in code)."""

import tomllib
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Coding:
    system: str
    code: str
    display: str


@dataclass(frozen=True)
class TaskState:
    status: str
    business_status: str
    display: str


@dataclass(frozen=True)
class FhirProfile:
    """`fhir.toml`: the identifier systems, codes and status table of the FHIR edge."""

    version: str
    member_identifier_system: str
    member_identifier_type_system: str
    member_identifier_type_code: str
    npi_system: str
    organization_identifier_system: str
    accepted_statuses: tuple[str, ...]
    accepted_intents: tuple[str, ...]
    palliative_codes: tuple[Coding, ...]
    goals_of_care_extension_url: str
    referral_identifier_system: str
    business_status_system: str
    goals_of_care_guidance: str
    task_states: dict[str, TaskState]


def load_fhir_profile() -> FhirProfile:
    doc = tomllib.loads((resources.files(__package__) / "fhir.toml").read_text(encoding="utf-8"))
    task = doc["task"]
    return FhirProfile(
        version=doc["version"],
        member_identifier_system=doc["member_identifier_system"],
        member_identifier_type_system=doc["member_identifier_type_system"],
        member_identifier_type_code=doc["member_identifier_type_code"],
        npi_system=doc["npi_system"],
        organization_identifier_system=doc["organization_identifier_system"],
        accepted_statuses=tuple(doc["accepted_statuses"]),
        accepted_intents=tuple(doc["accepted_intents"]),
        palliative_codes=tuple(Coding(**c) for c in doc["palliative_codes"]),
        goals_of_care_extension_url=doc["goals_of_care"]["extension_url"],
        referral_identifier_system=task["referral_identifier_system"],
        business_status_system=task["business_status_system"],
        goals_of_care_guidance=task["goals_of_care_guidance"],
        task_states={name: TaskState(**state) for name, state in task["status"].items()},
    )
