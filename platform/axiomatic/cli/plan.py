"""``platform plan``: a study's cost before it runs (arms x seeds, steps, resources, time, disk),
from :meth:`axiomatic.Study.plan`, printed."""

from __future__ import annotations

from rich.table import Table

from axiomatic.cli.common import DATA_DIRS, JSON_OUTPUT, console, data_store, emit_json


def add_commands(commands) -> None:
    plan = commands.add_parser("plan", help="dry run: arms x seeds, resources, time and disk estimates",
                               parents=[JSON_OUTPUT, *DATA_DIRS])
    plan.add_argument("file")
    plan.add_argument("--no-calibrate", action="store_true", help="skip the timing of a few training steps")
    plan.set_defaults(handler=_plan)


def _plan(args) -> int:
    from axiomatic import Study

    plan = Study.open(args.file, store=data_store(args)).plan(calibrate=not args.no_calibrate)
    if args.json:
        emit_json(plan)
        return 0
    _print_plan(plan)
    return 0


def _print_plan(plan: dict) -> None:
    table = Table(title=f"plan: {plan['study']}", show_header=False)
    table.add_row("search", f"{plan['algorithm']}, scheduler {plan['scheduler']}")
    arms = f"{plan['arms']}"
    if plan["arm_names"]:
        arms += ": " + ", ".join(plan["arm_names"])
    table.add_row("arms", arms)
    table.add_row("seeds", ", ".join(map(str, plan["seeds"])))
    table.add_row("cells (arms x seeds)", str(plan["cells"]))
    r = plan["resources_per_cell"]
    table.add_row("resources per cell", f"{r['workers']} worker(s) x cpu {r['cpu']}, gpu {r['gpu']}")
    table.add_row("concurrency here", str(plan["concurrency"]) if plan["concurrency"]
                  else "0: this machine lacks the resources of one cell (run it on a cluster)")
    low, high = plan["steps_per_cell_range"]
    spread = f" (arms: {low:,} to {high:,})" if low != high else ""
    table.add_row("model", f"{plan['parameters']:,} parameters, {plan['steps_per_cell']:,} steps per cell{spread}")
    if plan["calibration_skipped"]:
        table.add_row("calibration", f"none: {plan['calibration_skipped']}")
    if plan["seconds_per_step"]:
        table.add_row("calibration", f"{plan['seconds_per_step'] * 1000:.1f} ms/step on {plan['calibrated_on']}")
        wall = (f"{plan['estimated_wall_seconds'] / 3600:.2f} h wall here (training only)"
                if plan["estimated_wall_seconds"] else "no wall time here")
        table.add_row("estimated time", f"{plan['estimated_seconds_per_cell'] / 60:.1f} min per cell, {wall}")
    table.add_row("checkpoint disk", f"{plan['checkpoint_disk_bytes'] / 2**20:.1f} MiB (latest two per cell)")
    console.print(table)
