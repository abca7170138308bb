from hearth_platform.migrations import run_env
from hearth_referral.tables import metadata

run_env(metadata)
