"""The SAM template lints clean offline and declares what the merger needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

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


def test_video_merger_function_properties(template: dict[str, Any]) -> None:
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    fn = template["Resources"]["VideoMergerFunction"]
    props = fn["Properties"]
    assert fn["Type"] == "AWS::Serverless::Function"
    runtime = props.get("Runtime") or template["Globals"]["Function"]["Runtime"]
    assert runtime == "python3.12"
    assert props["Handler"] == "lambdas.video_merger.handler.lambda_handler"
    assert (props["MemorySize"], props["Timeout"]) == (3008, 900)
    assert props["EphemeralStorage"] == {"Size": 10240}
    assert props["Layers"] == [{"Ref": "FFmpegLayerArn"}]
    assert props["Environment"]["Variables"]["FFMPEG_PATH"] == "/opt/bin/ffmpeg"
    assert props["Policies"] == [{"S3CrudPolicy": {"BucketName": {"Ref": "PipelineBucketName"}}}]
    assert {"PipelineBucketName", "FFmpegLayerArn"} <= set(template["Parameters"])


def test_log_group_and_outputs(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    logs = resources["VideoMergerLogGroup"]
    assert logs["Type"] == "AWS::Logs::LogGroup"
    assert logs["Properties"]["RetentionInDays"]
    assert resources["VideoMergerFunction"]["Properties"]["LoggingConfig"]["LogGroup"] == {
        "Ref": "VideoMergerLogGroup"}
    arn = template["Outputs"]["VideoMergerFunctionArn"]["Value"]
    assert arn == {"GetAtt": "VideoMergerFunction.Arn"}
