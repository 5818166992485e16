"""Studies: the spec and its search space, the ledger of cells, statistics over seeds.

The runner (``axiomatic.study.runner``: run_cells, study_ray) and the Tune
trainable (``axiomatic.study.trial``) are not imported here: they import Ray.
"""

from axiomatic.study.ledger import Cell, CellStatus, Ledger, arm_id, cell_id
from axiomatic.study.results import ArmSummary, PairedComparison, Reach, aggregate_arms, paired_comparisons
from axiomatic.study.space import arm_count, grid_arms
from axiomatic.study.spec import StudySpec, load_study, validate_study

__all__ = ["ArmSummary", "Cell", "CellStatus", "Ledger", "PairedComparison", "Reach", "StudySpec",
           "aggregate_arms", "arm_count", "arm_id", "cell_id", "grid_arms", "load_study",
           "paired_comparisons", "validate_study"]
