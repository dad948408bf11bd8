"""The SAM template lints clean offline and declares what the merger needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from video_dagster.resources.lambda_functions import FUNCTIONS, deployed_name

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, !GetAtt) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    return {suffix: loader.construct_sequence(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    data: dict[str, Any] = yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)
    return data


def test_cfn_lint_reports_no_errors() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    proc = subprocess.run([str(cfn_lint), "--format", "parseable", str(TEMPLATE)],
                          capture_output=True, text=True, timeout=120, check=False)
    errors = [line for line in proc.stdout.splitlines() if ":E" in line or ":W" in line]
    assert proc.returncode in (0, 8), proc.stdout + proc.stderr  # 8 = informational only
    assert errors == []


def _functions(template: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """Logical function name (from the handler) → (resource id, properties)."""
    found = {}
    for rid, res in template["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            handler = res["Properties"]["Handler"]
            found[handler.split(".")[1]] = (rid, res["Properties"])
    return found


def test_every_function_is_in_the_table_on_disk_and_in_the_template(
    template: dict[str, Any]
) -> None:
    on_disk = {p.parent.name for p in (ROOT / "lambdas").glob("*/handler.py")}
    assert set(_functions(template)) == set(FUNCTIONS) == on_disk
    for name in on_disk:
        assert (ROOT / "lambdas" / name / "core.py").is_file()
        assert (ROOT / "lambdas" / name / "requirements.txt").is_file()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_function_section(template: dict[str, Any], name: str) -> None:
    rid, props = _functions(template)[name]
    spec, glob = FUNCTIONS[name], template["Globals"]["Function"]
    assert rid == spec.resource
    assert props["Handler"] == f"lambdas.{name}.handler.lambda_handler"
    assert props["CodeUri"] == f"dist/{name}.zip"
    assert (props.get("Runtime") or glob["Runtime"]) == "python3.12"
    # The orchestrator's deadline and cost come from the table: it must state the template.
    assert props.get("Timeout", glob["Timeout"]) == spec.timeout_seconds
    assert props["MemorySize"] == spec.memory_mb
    # One naming rule: the deployed name is the prefix (`<stack>-`) plus the hyphenated name.
    assert props["FunctionName"] == {"Sub": deployed_name(name, "${AWS::StackName}-")}
    assert (props.get("Layers") or glob["Layers"]) == [{"Ref": "FFmpegLayerArn"}]
    env = props.get("Environment") or glob["Environment"]
    assert env["Variables"]["FFMPEG_PATH"] == "/opt/bin/ffmpeg"
    assert props["Policies"] == [{"S3CrudPolicy": {"BucketName": {"Ref": "PipelineBucketName"}}}]
    logs = template["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]
    assert logs["Type"] == "AWS::Logs::LogGroup" and logs["Properties"]["RetentionInDays"]
    assert template["Outputs"][f"{rid}Name"]["Value"] == {"Ref": rid}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_async_failures_are_not_retried_and_land_in_the_bucket(
    template: dict[str, Any], name: str
) -> None:
    rid = FUNCTIONS[name].resource
    (config,) = [r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::Lambda::EventInvokeConfig"
                 and r["Properties"]["FunctionName"] == {"Ref": rid}]
    assert config["MaximumRetryAttempts"] == 0
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Sub": "arn:${AWS::Partition}:s3:::${PipelineBucketName}"}


def test_deployed_name_rule() -> None:
    assert deployed_name("video_merger", "vd-prod-") == "vd-prod-video-merger"
    assert deployed_name("code_renderer", "") == "code-renderer"
