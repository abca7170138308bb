import os
import uuid

from hearth_platform.ids import new_id, new_traceparent


def test_new_ids_are_random_uuids_in_their_usual_text_form() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_a_new_trace_has_the_w3c_traceparent_shape() -> None:
    version, trace_id, parent_id, flags = new_traceparent().split("-")
    assert (version, flags) == ("00", "01")
    assert len(trace_id) == 32 and len(parent_id) == 16
    int(trace_id, 16), int(parent_id, 16)


def test_a_forked_process_mints_other_ids_than_its_parent():
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(writer, " ".join(new_id() for _ in range(5)).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(pid, 0)
    child = os.read(reader, 4096).decode().split()
    parent = [new_id() for _ in range(5)]
    assert len(child) == 5 and not set(child) & set(parent)
