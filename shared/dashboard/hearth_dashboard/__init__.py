"""The ops dashboard on port 8000: topic rates, consumer lag, dead letters, outbox backlog, health."""
