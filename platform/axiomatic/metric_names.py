"""The names a run reports its metrics under: built and read back here only.

    val/acc, val/loss            the held-out validation split
    train/loss                   mean training loss since the last report
    suite/<suite>/acc            accuracy on an evaluation suite (suite names hold "/" themselves)
    suite/<suite>/f1             the Yes class's F1 (and .../precision, .../recall) on a suite of
    val/f1                       a task scored that way (corr2cause), and on its validation split
    reach/<threshold>/step       the step, and the seconds (``.../seconds``), at which validation
    reach/<threshold>/seconds    accuracy first reached the threshold ("0.90")
    stage/<stage>/acc            a finished curriculum stage's training accuracy over its last
                                 train.gate_window steps (<stage>: its name, else its index)

These names are the keys of ``metrics.jsonl``, of Tune results and of ``cell.json``, and study files
name their objective by them: changing one changes every file already written.
"""

VAL_ACC = "val/acc"
VAL_F1 = "val/f1"
VAL_LOSS = "val/loss"
TRAIN_LOSS = "train/loss"

SUITE_PREFIX = "suite/"
REACH_PREFIX = "reach/"
STAGE_PREFIX = "stage/"
PREFIXES = ("val/", "train/", SUITE_PREFIX, REACH_PREFIX, STAGE_PREFIX)  # every metric's name starts with one
ACC_SUFFIX = "/acc"
LOSS_SUFFIX = "/loss"
YES_CLASS_MEASURES = ("f1", "precision", "recall")
SCORES = ("acc", *YES_CLASS_MEASURES)  # each a share in [0, 1] that higher is better


def suite_acc(suite: str) -> str:
    """The name of a suite's accuracy."""
    return f"{SUITE_PREFIX}{suite}{ACC_SUFFIX}"


def suite_metric(suite: str, measure: str) -> str:
    """The name of a suite's ``measure`` (one of SCORES)."""
    return f"{SUITE_PREFIX}{suite}/{measure}"


def suite_and_measure(metric: str) -> tuple[str, str] | None:
    """(suite, measure) of any suite metric, or None."""
    if not metric.startswith(SUITE_PREFIX):
        return None
    suite, _, measure = metric[len(SUITE_PREFIX) :].rpartition("/")
    return (suite, measure) if suite and measure in SCORES else None


def suite_of(metric: str) -> str | None:
    """The suite a metric measures, or None when the metric is not a suite accuracy."""
    if metric.startswith(SUITE_PREFIX) and metric.endswith(ACC_SUFFIX):
        return metric[len(SUITE_PREFIX) : -len(ACC_SUFFIX)]
    return None


def is_score(metric: str) -> bool:
    """An accuracy or a Yes-class measure: a share in [0, 1], higher is better."""
    return any(metric.endswith("/" + measure) for measure in SCORES)


def is_loss(metric: str) -> bool:
    return metric.endswith(LOSS_SUFFIX)


def threshold_name(threshold: float) -> str:
    """A validation accuracy as reach names (and the checkpointed training state) hold it: "0.90"."""
    return f"{threshold:.2f}"


def reach_step(threshold: str) -> str:
    return f"{REACH_PREFIX}{threshold}/step"


def reach_seconds(threshold: str) -> str:
    return f"{REACH_PREFIX}{threshold}/seconds"


def threshold_of(metric: str) -> str | None:
    """The threshold a reach metric is about, or None when the metric is not a reach one."""
    if not metric.startswith(REACH_PREFIX):
        return None
    return metric[len(REACH_PREFIX) :].partition("/")[0]


def stage_acc(stage: str) -> str:
    """The name of a finished curriculum stage's training accuracy."""
    return f"{STAGE_PREFIX}{stage}{ACC_SUFFIX}"


def stage_of(metric: str) -> str | None:
    """The stage a stage accuracy is about, or None when the metric is not one."""
    if metric.startswith(STAGE_PREFIX) and metric.endswith(ACC_SUFFIX):
        return metric[len(STAGE_PREFIX) : -len(ACC_SUFFIX)]
    return None
