#!/usr/bin/env bash
# The wheels a GPU machine without network access needs, beyond an image that already holds
# PyTorch and the common scientific packages, to run bench/gpu_reproduce.sh in full: Ray (Tune and
# Train, for the study of bench/trials_per_device.py), Optuna and pydantic, with those of their
# dependencies such an image tends to lack. Versions are those of this checkout's .venv (what the
# test suite passed with); the platform is CPython 3.12 on x86_64 Linux unless --python-version says
# otherwise. Ray's wheel is rewritten without ray/jars (the jars of its Java workers: 31 of its 75
# MiB) and without the dashboard's web client (Ray's dashboard needs ray[default], not carried),
# recompressed, so that the lot travels beside the repository and the published files under a 64
# MiB limit.
#
#   bash bench/offline_wheels.sh DIR [--python-version 3.12]
#   then, on the machine:  AXIOMATIC_WHEELS=DIR bash bench/gpu_reproduce.sh OUTDIR
#   (or by hand:           python3 -m pip install --no-index --no-deps DIR/*.whl)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=${1:?usage: bench/offline_wheels.sh DIR [--python-version X.Y]}
python_version=3.12
if [[ "${2:-}" == "--python-version" ]]; then
    python_version=${3:?--python-version needs X.Y}
fi
venv_python=$repo/.venv/bin/python
[[ -x "$venv_python" ]] || { echo "bench/offline_wheels.sh: no .venv here; run 'make .venv/.installed' first" >&2; exit 2; }

packages=(ray jsonschema jsonschema-specifications referencing rpds-py tensorboardX pydantic pydantic-core
          annotated-types typing-inspection typing-extensions optuna alembic sqlalchemy mako colorlog)
pinned=$("$venv_python" - "${packages[@]}" <<'EOF'
import sys
from importlib.metadata import version
print(" ".join(f"{name}=={version(name)}" for name in sys.argv[1:]))
EOF
)

mkdir -p "$dir"
# shellcheck disable=SC2086  # one argument per pinned package
"$venv_python" -m pip download -q --no-deps --only-binary=:all: --python-version "$python_version" \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d "$dir" $pinned

"$venv_python" - "$dir" <<'EOF'
# Ray without its Java workers' jars and the dashboard's web client: the archive rewritten, and
# their lines dropped from RECORD so that pip finds every file it lists.
import sys
import zipfile
from pathlib import Path

LEFT_OUT = ("ray/jars/", "ray/dashboard/client/build/")

for wheel in Path(sys.argv[1]).glob("ray-*.whl"):
    stripped = wheel.with_suffix(".stripped")
    with zipfile.ZipFile(wheel) as source, \
            zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename.startswith(LEFT_OUT):
                continue
            data = source.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                lines = data.decode().splitlines(keepends=True)
                data = "".join(line for line in lines if not line.startswith(LEFT_OUT)).encode()
            target.writestr(item, data, compresslevel=9)
    stripped.replace(wheel)
EOF
du -sh "$dir"
ls "$dir"
