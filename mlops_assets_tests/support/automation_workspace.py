"""A code location for the daemon test: the hand-built two-model fleet (`automation_fleet`),
`down` fed by `up`, neither reaching its cadence during a test (yearly)."""

from mlops_assets_tests.support.automation_fleet import automated_fleet, spec

YEARLY = "0 0 1 1 *"

defs = automated_fleet([spec("up", cadence=YEARLY), spec("down", ["up"], cadence=YEARLY)])
