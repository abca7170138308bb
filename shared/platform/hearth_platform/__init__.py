"""The plumbing every Hearth service uses, written once: settings, database and migrations,
outbox and relay, consumer (inbox, retries, dead letters), CloudEvents codec, metrics, logging,
errors and the app factory."""
