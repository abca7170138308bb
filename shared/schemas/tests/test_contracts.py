import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from hearth_schemas import ALL_EVENTS, AssessmentFeeAccrued, ReferralReceived, model_for
from hearth_schemas.compat import breaking_changes
from hearth_schemas.generate import JSON_DIR, RELEASED_DIR, main, rendered


def test_checked_in_schemas_and_asyncapi_are_current():
    assert main(["--check"]) == 0, "run `make schemas` and commit the result"


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: e.event_type())
def test_every_event_is_backward_compatible_with_its_released_schema(event):
    released_path = RELEASED_DIR / event.schema_filename()
    assert released_path.exists(), f"{event.event_type()} has no released schema: run generate --release"
    released = json.loads(released_path.read_text())
    current = json.loads(rendered()[JSON_DIR / event.schema_filename()])
    assert breaking_changes(released, current) == []


def test_removing_a_property_or_adding_a_required_one_is_breaking():
    released = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}
    current = {"properties": {"a": {"type": "integer"}, "c": {"type": "string"}}, "required": ["a", "c"]}
    assert breaking_changes(released, current) == [
        "property 'a' changed its schema",
        "property 'b' was removed",
        "property 'c' became required",
    ]


def test_adding_an_optional_property_is_compatible():
    released = {"properties": {"a": {"type": "string", "title": "A"}}, "required": ["a"]}
    current = {
        "properties": {"a": {"type": "string", "title": "Renamed"}, "n": {"type": "string"}},
        "required": ["a"],
    }
    assert breaking_changes(released, current) == []


def test_event_type_names_service_event_and_major_version():
    assert ReferralReceived.event_type() == "hearth.referral.ReferralReceived.v1"
    assert ReferralReceived.topic() == "referral.events"
    assert model_for("hearth.billing.AssessmentFeeAccrued.v1") is AssessmentFeeAccrued


def test_money_travels_as_a_two_decimal_string():
    accrual = AssessmentFeeAccrued(
        accrual_id="a1",
        member_id="M1",
        provider_org_id="org-1",
        assessment_id="as-1",
        service_date=date(2026, 10, 3),
        amount=Decimal("325"),
        contract_id="c1",
    )
    assert accrual.to_json_dict()["amount"] == "325.00"


def test_consumers_ignore_unknown_fields_but_reject_bad_values():
    base = dict(
        referral_id="r1",
        member_id="M1",
        source="ehr",
        referrer_id="dr-1",
        referral_date="2026-10-01",
        received_at=datetime(2026, 10, 1, tzinfo=UTC),
    )
    assert ReferralReceived.model_validate({**base, "future_field": 1}).member_id == "M1"
    with pytest.raises(ValidationError) as err:
        ReferralReceived.model_validate({**base, "source": "fax"})
    assert err.value.errors()[0]["loc"] == ("source",)
