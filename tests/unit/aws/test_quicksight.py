"""QuickSight as code: every request valid against botocore's service model, idempotent deploy
(Stubber: moto lacks data sets' describe/update and analyses), moto where it has the API."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.dashboard import load_dashboard
from pipeline.quicksight import build_assets, dataset_columns, deploy, spice_ingestions
from pipeline.settings import Settings

ACCOUNT, REGION = "123456789012", "eu-west-1"
PRINCIPAL = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts"


def client():
    return boto3.client("quicksight", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")


@pytest.fixture
def assets():
    return build_assets(Settings(quicksight_principal_arn=PRINCIPAL, athena_workgroup="analytics-prod"), ACCOUNT, REGION)


def test_every_request_is_valid_for_the_service_model(assets):
    model = client().meta.service_model

    def check(op, params):
        validate_parameters(params, model.operation_model(op).input_shape)

    check("CreateDataSource", assets.data_source)
    for data_set in assets.data_sets:
        check("CreateDataSet", data_set)
        check("UpdateDataSet", {k: v for k, v in data_set.items() if k != "Permissions"})
    check("CreateAnalysis", assets.analysis)
    check("CreateDashboard", assets.dashboard)
    check("UpdateDashboard", {k: v for k, v in assets.dashboard.items() if k != "Permissions"})
    broken = dict(assets.data_source, Type="NOT_A_TYPE", Nope=1)
    with pytest.raises(ParamValidationError):  # the check can fail
        check("CreateDataSource", broken)


def test_templated_from_settings_and_one_dataset_per_view(assets):
    from pipeline.sql import view_definitions

    assert [d["PhysicalTableMap"]["view"]["RelationalTable"]["Name"] for d in assets.data_sets] == list(view_definitions())
    declared = [d["Identifier"] for d in assets.dashboard["Definition"]["DataSetIdentifierDeclarations"]]
    assert declared == load_dashboard().views()
    assert assets.data_source["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "analytics-prod"}}
    assert all(d["ImportMode"] == "DIRECT_QUERY" for d in assets.data_sets)
    assert {p["Principal"] for p in assets.dashboard["Permissions"]} == {PRINCIPAL}
    sheets = [s["Name"] for s in assets.dashboard["Definition"]["Sheets"]]
    assert sheets == ["Overview", "Customer sentiment", "Agents", "Categories", "Silence and interruptions", "Cost"]
    names = {p["DateTimeParameterDeclaration"]["Name"] for p in assets.dashboard["Definition"]["ParameterDeclarations"]}
    assert names == {"FromDate", "ToDate"}
    other = build_assets(Settings(), "999999999999", "us-east-1")
    assert "999999999999" in other.analysis["Definition"]["DataSetIdentifierDeclarations"][0]["DataSetArn"]
    assert other.dashboard["Permissions"] == []
    assert dict(dataset_columns("v_daily_overview"))["calls"] == "INTEGER"
    assert dict(dataset_columns("v_daily_overview"))["dt"] == "STRING"  # cast to DATETIME in the logical table


def _not_found(stub, op):
    stub.add_client_error(op, "ResourceNotFoundException", "not found", 404)


def test_first_deploy_creates_and_second_updates(assets):
    qs = client()
    with Stubber(qs) as stub:
        _not_found(stub, "describe_data_source")
        stub.add_response("create_data_source", {"Status": 200}, assets.data_source)
        for data_set in assets.data_sets:
            _not_found(stub, "describe_data_set")
            stub.add_response("create_data_set", {"Status": 200}, data_set)
        _not_found(stub, "describe_analysis")
        stub.add_response("create_analysis", {"Status": 200}, assets.analysis)
        _not_found(stub, "describe_dashboard")
        stub.add_response("create_dashboard", {"Status": 200}, assets.dashboard)
        first = deploy(qs, assets)
        stub.assert_no_pending_responses()
    assert first[0] == "create data source aftercall-athena" and first[-1] == "create dashboard aftercall-dashboard"

    with Stubber(qs) as stub:
        stub.add_response("describe_data_source", {"Status": 200})
        stub.add_response("update_data_source", {"Status": 200})
        stub.add_response("update_data_source_permissions", {"Status": 200})
        for _ in assets.data_sets:
            stub.add_response("describe_data_set", {"Status": 200})
            stub.add_response("update_data_set", {"Status": 200})
            stub.add_response("update_data_set_permissions", {"Status": 200})
        stub.add_response("describe_analysis", {"Status": 200})
        stub.add_response("update_analysis", {"Status": 200})
        stub.add_response("update_analysis_permissions", {"Status": 200})
        stub.add_response("describe_dashboard", {"Status": 200})
        stub.add_response("update_dashboard", {
            "Status": 200, "VersionArn": f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/aftercall-dashboard/version/3"})
        stub.add_response("update_dashboard_published_version", {"Status": 200},
                          {"AwsAccountId": ACCOUNT, "DashboardId": "aftercall-dashboard", "VersionNumber": 3})
        stub.add_response("update_dashboard_permissions", {"Status": 200})
        second = deploy(qs, assets)
        stub.assert_no_pending_responses()
    assert not any(a.startswith("create") for a in second) and "publish dashboard version 3" in second


def test_dry_run_changes_nothing(assets):
    qs = client()
    with Stubber(qs) as stub:  # only the describes may be called
        _not_found(stub, "describe_data_source")
        for _ in assets.data_sets:
            _not_found(stub, "describe_data_set")
        _not_found(stub, "describe_analysis")
        _not_found(stub, "describe_dashboard")
        actions = deploy(qs, assets, dry_run=True)
        stub.assert_no_pending_responses()
    assert len(actions) == 3 + len(assets.data_sets)


def test_moto_accepts_the_data_source_and_the_dashboard(aws, assets):
    qs = aws.client("quicksight")
    qs.create_data_source(**assets.data_source)
    described = qs.describe_data_source(AwsAccountId=ACCOUNT, DataSourceId="aftercall-athena")["DataSource"]
    assert described["Type"] == "ATHENA"
    qs.update_data_source(**{k: v for k, v in assets.data_source.items() if k not in ("Type", "Permissions")})
    qs.create_dashboard(**assets.dashboard)
    assert qs.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="aftercall-dashboard")["Dashboard"]["Name"] \
        == load_dashboard().name


def assets_views():
    from pipeline.sql import view_definitions

    return list(view_definitions())


def test_spice_ingestion_ids_are_valid_and_fresh():
    assert spice_ingestions(Settings(), "scheduled__2026-11-23T00:30:00+00:00") == []
    spice = Settings(quicksight_import_mode="SPICE")
    first = spice_ingestions(spice, "scheduled__2026-11-23T00:30:00+00:00")
    again = spice_ingestions(spice, "scheduled__2026-11-23T00:30:00+00:00")
    assert len(first) == len(assets_views())
    assert all(re.fullmatch(r"[a-zA-Z0-9-_]{1,128}", i["ingestion_id"]) for i in first)
    assert first[0]["ingestion_id"] != again[0]["ingestion_id"]  # a cleared task re-runs with a new id


def test_cli_dry_run_names_every_asset(aws, monkeypatch, assets):
    """The account comes from STS (moto); QuickSight's describes are stubbed (moto lacks some)."""
    from pipeline import wiring

    monkeypatch.setenv("AFTERCALL_AWS_REGION", REGION)
    qs = client()
    stub = Stubber(qs)
    for op in ["describe_data_source", *["describe_data_set"] * len(assets.data_sets), "describe_analysis",
               "describe_dashboard"]:
        _not_found(stub, op)
    real = wiring.aws_client
    monkeypatch.setattr(wiring, "aws_client", lambda s, service: qs if service == "quicksight" else real(s, service))
    with stub:
        result = CliRunner().invoke(app, ["quicksight", "deploy", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would create data source aftercall-athena" in result.output
    assert "would create dashboard aftercall-dashboard" in result.output
