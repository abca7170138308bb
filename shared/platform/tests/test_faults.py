import asyncpg
from pydantic import BaseModel, ValidationError

from hearth_platform.consumer import _reason, is_infrastructure_fault
from hearth_platform.errors import Invalid


def test_unreachable_database_is_an_infrastructure_fault_even_when_wrapped():
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as inner:
            raise RuntimeError("engine failed") from inner
    except RuntimeError as outer:
        assert is_infrastructure_fault(outer)
    assert is_infrastructure_fault(asyncpg.exceptions.AdminShutdownError())


def test_domain_errors_are_not_infrastructure_faults():
    assert not is_infrastructure_fault(Invalid("tier 'gold' is not in the contract"))
    assert not is_infrastructure_fault(KeyError("x"))


def test_dead_letter_reason_names_fields_but_not_their_values():
    class Person(BaseModel):
        birth_date: int

    try:
        Person.model_validate({"birth_date": "1950-02-03"})
    except ValidationError as exc:
        reason = _reason(exc)
    assert reason.startswith("schema validation failed: birth_date:")
    assert "1950-02-03" not in reason
