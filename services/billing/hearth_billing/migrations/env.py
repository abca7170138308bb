from hearth_billing.tables import metadata
from hearth_platform.migrations import run_env

run_env(metadata)
