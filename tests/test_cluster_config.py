"""Both cluster files pass Ray's own cluster-config validation (offline), so a typo fails CI
rather than `ray up` on someone's cloud account."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster.local.yaml"])
def test_cluster_file_passes_rays_validation(name):
    validate_config(prepare_config(yaml.safe_load((REPO / name).read_text())))


def test_a_misspelt_key_fails_the_same_validation():
    config = yaml.safe_load((REPO / "cluster.local.yaml").read_text())
    config["auth"]["ssh_usr"] = config["auth"].pop("ssh_user")
    with pytest.raises(jsonschema.ValidationError, match="ssh_usr"):
        validate_config(prepare_config(config))
