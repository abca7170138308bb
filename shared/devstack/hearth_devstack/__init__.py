"""Hearth's development stack: embedded Postgres and Kafka-compatible broker, the service
supervisor behind `make up` / `make down`, the `hearth` CLI, and the pytest `infra` fixture."""
