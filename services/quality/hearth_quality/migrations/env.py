from hearth_platform.migrations import run_env
from hearth_quality.tables import metadata

run_env(metadata)
