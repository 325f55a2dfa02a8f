"""QuickSight as code: every request valid against botocore's service model, idempotent deploy
(Stubber: moto lacks data sets' describe/update and analyses), moto where it has the API."""

from __future__ import annotations

import copy
import re

import boto3
import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import Stubber
from botocore.validate import validate_parameters
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.presentation.dashboard import load_dashboard
from pipeline.presentation.quicksight import build_assets, dataset_columns, deploy, spice_ingestions
from pipeline.settings import Settings

ACCOUNT, REGION = "123456789012", "eu-west-1"
PRINCIPAL = f"arn:aws:quicksight:{REGION}:{ACCOUNT}:group/default/analysts"


def client():
    return boto3.client("quicksight", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="y")


@pytest.fixture
def assets():
    return build_assets(Settings(quicksight_principal_arn=PRINCIPAL, athena_workgroup="analytics-prod"), ACCOUNT, REGION)


def _strict(value, shape, path="", errors=None):
    """What botocore's validator leaves to the service: enums, patterns and maximum lengths, at every depth."""
    errors = [] if errors is None else errors
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, member in value.items():
            if name in shape.members:
                _strict(member, shape.members[name], f"{path}.{name}", errors)
    elif shape.type_name == "list" and isinstance(value, list):
        if len(value) > shape.metadata.get("max", len(value)):
            errors.append(f"{path}: {len(value)} items, at most {shape.metadata['max']}")
        for i, item in enumerate(value):
            _strict(item, shape.member, f"{path}[{i}]", errors)
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not one of {shape.enum}")
        if "pattern" in shape.metadata and not re.fullmatch(shape.metadata["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {shape.metadata['pattern']}")
        if len(value) > shape.metadata.get("max", len(value)):
            errors.append(f"{path}: longer than {shape.metadata['max']}")
    return errors


def _check(op, params):
    shape = client().meta.service_model.operation_model(op).input_shape
    validate_parameters(params, shape)  # names, nesting, types, required members, minimums
    errors = _strict(params, shape)
    if errors:
        raise ParamValidationError(report="\n".join(errors))


def _definition_visuals(definition):
    """Visual id -> visual (``{"TableVisual": {...}}`` and the like), over every sheet."""
    return {next(iter(v.values()))["VisualId"]: v for s in definition["Sheets"] for v in s["Visuals"]}


def test_every_request_is_valid_for_the_service_model(assets):
    _check("CreateDataSource", assets.data_source)
    for data_set in assets.data_sets:
        _check("CreateDataSet", data_set)
        _check("UpdateDataSet", {k: v for k, v in data_set.items() if k != "Permissions"})
    _check("CreateAnalysis", assets.analysis)
    _check("CreateDashboard", assets.dashboard)
    _check("UpdateDashboard", {k: v for k, v in assets.dashboard.items() if k != "Permissions"})
    broken = dict(assets.data_source, Type="NOT_A_TYPE", Nope=1)
    with pytest.raises(ParamValidationError):  # the check can fail
        _check("CreateDataSource", broken)
    with pytest.raises(ParamValidationError):  # on an enum alone too, which botocore does not check
        _check("CreateDataSource", dict(assets.data_source, Type="NOT_A_TYPE"))


def _operation(table, kind):
    return next(o[kind] for o in table["Actions"][0]["ActionOperations"] if kind in o)


# where, in the dashboard's Definition, each new part sits
_PARTS = {
    "navigation": lambda d, table: _operation(table, "NavigationOperation")["LocalNavigationConfiguration"],
    "set": lambda d, table: _operation(table, "SetParametersOperation")["ParameterValueConfigurations"][0],
    "set value": lambda d, table: _operation(table, "SetParametersOperation")["ParameterValueConfigurations"][0][
        "Value"],
    "filter": lambda d, table: next(g for g in d["FilterGroups"] if "SelectedSheets" in g["ScopeConfiguration"])[
        "Filters"][0]["CategoryFilter"]["Configuration"]["CustomFilterConfiguration"],
    "scope": lambda d, table: next(g for g in d["FilterGroups"] if "SelectedSheets" in g["ScopeConfiguration"])[
        "ScopeConfiguration"]["SelectedSheets"]["SheetVisualScopingConfigurations"][0],
    "parameter": lambda d, table: next(p for p in d["ParameterDeclarations"] if "StringParameterDeclaration" in p)[
        "StringParameterDeclaration"],
    "wells": lambda d, table: table["ChartConfiguration"]["FieldWells"]["TableUnaggregatedFieldWells"],
    "label": lambda d, table: table["ChartConfiguration"]["FieldOptions"]["SelectedFieldOptions"][0],
}


@pytest.mark.parametrize("part, key, value", [
    # a misspelt member deep in the click action, the key filter, the parameter and the field wells
    ("navigation", "TargetSheetID", "call"),
    ("set value", "SourceFieldId", "calls-0-contact_id"),
    ("filter", "ParameterNames", "ContactId"),
    ("parameter", "ValueType", "SINGLE_VALUED"),
    ("wells", "Value", []),
    ("label", "Label", "Contact id"),
    # what botocore alone lets through: enums and patterns
    ("navigation", "TargetSheetId", "call sheet"),
    ("filter", "MatchOperator", "IS"),
    ("scope", "Scope", "THIS_SHEET"),
    ("set", "DestinationParameterName", "contact_id"),
])
def test_the_model_check_reaches_the_new_nested_parts(assets, part, key, value):
    dashboard = copy.deepcopy(assets.dashboard)
    definition = dashboard["Definition"]
    _check("CreateDashboard", dashboard)
    _PARTS[part](definition, _definition_visuals(definition)["calls-0"]["TableVisual"])[key] = value
    with pytest.raises(ParamValidationError):
        _check("CreateDashboard", dashboard)


def test_list_visuals_are_unaggregated_labelled_rows(assets):
    dashboard = load_dashboard()
    visuals = _definition_visuals(assets.dashboard["Definition"])
    lists = [(sheet, i, visual) for sheet in dashboard.sheets for i, visual in enumerate(sheet.visuals)
             if visual.type == "list"]
    assert [f"{sheet.id}-{i}" for sheet, i, _ in lists] == ["calls-0", "call-2"]
    for sheet, i, visual in lists:
        table = visuals[f"{sheet.id}-{i}"]["TableVisual"]
        wells = table["ChartConfiguration"]["FieldWells"]
        assert list(wells) == ["TableUnaggregatedFieldWells"]
        values = wells["TableUnaggregatedFieldWells"]["Values"]
        assert [v["Column"] for v in values] == [{"DataSetIdentifier": visual.view, "ColumnName": c.name}
                                                 for c in visual.columns]
        assert not any("AggregationFunction" in v for v in values)
        labels = {o["FieldId"]: o["CustomLabel"] for o in table["ChartConfiguration"]["FieldOptions"][
            "SelectedFieldOptions"]}
        assert [labels[v["FieldId"]] for v in values] == [dashboard.label(c.name) for c in visual.columns]
        percent = [v["Column"]["ColumnName"] for v in values if "FormatConfiguration" in v]
        assert percent == [c.name for c in visual.columns if dashboard.unit(c.name) == "percent"]
        sort = table["ChartConfiguration"]["SortConfiguration"]["RowSort"]
        assert sort[0]["FieldSort"] == {"FieldId": values[0]["FieldId"], "Direction": "ASC"}  # transcript by time
    transcript = visuals["call-2"]["TableVisual"]
    assert transcript["Title"]["FormatText"]["PlainText"] == "Transcript" and "Actions" not in transcript
    calls = visuals["calls-0"]["TableVisual"]["ChartConfiguration"]
    talk = next(v for v in calls["FieldWells"]["TableUnaggregatedFieldWells"]["Values"]
                if v["Column"]["ColumnName"] == "agent_talk_ratio")
    assert {"FieldId": talk["FieldId"], "CustomLabel": "Agent talk"} in calls["FieldOptions"]["SelectedFieldOptions"]
    assert talk["FormatConfiguration"]["NumberFormatConfiguration"]["FormatConfiguration"] == {
        "PercentageDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {"DecimalPlaces": 1}}}
    field_ids = [f["FieldId"] for v in visuals.values() for f in _fields(v)]
    assert len(field_ids) == len(set(field_ids))  # unique across the whole definition


def _fields(visual):
    """Every field of a visual, whatever its well."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if "FieldId" in node and "Column" in node:
                found.append(node)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(next(iter(visual.values()))["ChartConfiguration"]["FieldWells"])
    return found


def test_the_calls_list_opens_the_call_sheet_filtered_to_that_call(assets):
    definition = assets.dashboard["Definition"]
    assert definition == assets.analysis["Definition"]
    calls = _definition_visuals(definition)["calls-0"]["TableVisual"]
    key_field = next(v["FieldId"] for v in calls["ChartConfiguration"]["FieldWells"]["TableUnaggregatedFieldWells"][
        "Values"] if v["Column"]["ColumnName"] == "contact_id")
    (action,) = calls["Actions"]
    assert (action["Trigger"], action["Status"]) == ("DATA_POINT_CLICK", "ENABLED")
    assert action["ActionOperations"] == [
        {"SetParametersOperation": {"ParameterValueConfigurations": [
            {"DestinationParameterName": "ContactId", "Value": {"SourceField": key_field}}]}},
        {"NavigationOperation": {"LocalNavigationConfiguration": {"TargetSheetId": "call"}}}]

    (parameter,) = [p["StringParameterDeclaration"] for p in definition["ParameterDeclarations"]
                    if "StringParameterDeclaration" in p]
    assert parameter["Name"] == "ContactId" and parameter["ParameterValueType"] == "SINGLE_VALUED"

    call_sheet = next(s for s in definition["Sheets"] if s["SheetId"] == "call")
    call_views = {f["Column"]["DataSetIdentifier"] for v in call_sheet["Visuals"] for f in _fields(v)}
    assert call_views == {"v_call_detail"}
    keyed = [g for g in definition["FilterGroups"] if "SelectedSheets" in g["ScopeConfiguration"]]
    assert {g["Filters"][0]["CategoryFilter"]["Column"]["DataSetIdentifier"] for g in keyed} == call_views
    for group in keyed:
        assert group["ScopeConfiguration"] == {"SelectedSheets": {"SheetVisualScopingConfigurations": [
            {"SheetId": "call", "Scope": "ALL_VISUALS"}]}}  # that sheet only: the Calls list keeps every call
        (only,) = group["Filters"]
        assert only["CategoryFilter"]["Column"]["ColumnName"] == "contact_id"
        custom = only["CategoryFilter"]["Configuration"]["CustomFilterConfiguration"]
        assert (custom["MatchOperator"], custom["ParameterName"]) == ("EQUALS", "ContactId")
        assert group["CrossDataset"] == "SINGLE_DATASET" and group["Status"] == "ENABLED"
    dates = [g for g in definition["FilterGroups"] if g["FilterGroupId"].startswith("dates-")]
    assert len(dates) == len(definition["DataSetIdentifierDeclarations"])  # the date range still filters every sheet
    assert all(g["ScopeConfiguration"] == {"AllSheets": {}} for g in dates)
    ids = [g["FilterGroupId"] for g in definition["FilterGroups"]]
    assert len(ids) == len(set(ids))


def test_templated_from_settings_and_one_dataset_per_view(assets):
    from pipeline.analytics.sql import view_definitions

    assert [d["PhysicalTableMap"]["view"]["RelationalTable"]["Name"] for d in assets.data_sets] == list(view_definitions())
    declared = [d["Identifier"] for d in assets.dashboard["Definition"]["DataSetIdentifierDeclarations"]]
    assert declared == load_dashboard().views()
    assert assets.data_source["DataSourceParameters"] == {"AthenaParameters": {"WorkGroup": "analytics-prod"}}
    assert all(d["ImportMode"] == "DIRECT_QUERY" for d in assets.data_sets)
    assert {p["Principal"] for p in assets.dashboard["Permissions"]} == {PRINCIPAL}
    sheets = [s["Name"] for s in assets.dashboard["Definition"]["Sheets"]]
    assert sheets == ["Overview", "Calls", "Customer sentiment", "Agents", "Categories", "Silence and interruptions",
                      "Cost", "Quality", "Call"]
    names = {next(iter(p.values()))["Name"] for p in assets.dashboard["Definition"]["ParameterDeclarations"]}
    assert names == {"FromDate", "ToDate", "ContactId"}
    other = build_assets(Settings(), "999999999999", "us-east-1")
    assert "999999999999" in other.analysis["Definition"]["DataSetIdentifierDeclarations"][0]["DataSetArn"]
    assert other.dashboard["Permissions"] == []
    assert dict(dataset_columns("v_daily_overview"))["calls"] == "INTEGER"
    assert dict(dataset_columns("v_daily_overview"))["dt"] == "STRING"  # cast to DATETIME in the logical table


def test_a_list_that_opens_a_sheet_carries_its_key():
    from pipeline.presentation.dashboard import Dashboard

    spec = {"name": "x", "sheets": [
        {"id": "calls", "name": "Calls", "visuals": [
            {"type": "list", "title": "Calls", "view": "v_call_contacts", "opens": "call",
             "columns": [{"name": "dt"}]}]},
        {"id": "call", "name": "Call", "key": "contact_id", "visuals": [
            {"type": "kpi", "title": "Start", "view": "v_call_detail", "value": "customer_sentiment_start"}]}]}
    with pytest.raises(ValueError, match="lacks its key column 'contact_id'"):
        build_assets(Settings(), ACCOUNT, REGION, Dashboard.model_validate(spec))
    spec["sheets"][0]["visuals"][0]["columns"] = [{"name": "contact_id"}]
    spec["sheets"][1]["visuals"][0]["view"] = "v_daily_overview"  # per day: no contact_id to filter on
    spec["sheets"][1]["visuals"][0]["value"] = "calls"
    with pytest.raises(ValueError, match="keyed by 'contact_id', which view v_daily_overview lacks"):
        build_assets(Settings(), ACCOUNT, REGION, Dashboard.model_validate(spec))


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
    from pipeline.analytics.sql import view_definitions

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


def test_the_sentiment_outcome_reads_the_same_in_quicksight_as_in_the_report(assets):
    """Issue 23: the KPIs count the views' outcome out of the calls with sentiment (the report's "1 of 4" is the
    KPI's target here), and the calls list and the call's transcript carry the outcome, loudness and score."""
    visuals = _definition_visuals(assets.dashboard["Definition"])
    kpis = {v["KPIVisual"]["Title"]["FormatText"]["PlainText"]: v["KPIVisual"]["ChartConfiguration"]["FieldWells"]
            for v in visuals.values() if "KPIVisual" in v}
    for title, value in (("Customers who ended happier", "calls_ended_happier"),
                         ("Customers who ended negative", "calls_ended_negative")):
        wells = kpis[title]
        column = (lambda w: w[0]["NumericalMeasureField"]["Column"])
        assert column(wells["Values"]) == {"DataSetIdentifier": "v_sentiment_daily", "ColumnName": value}
        assert column(wells["TargetValues"]) == {"DataSetIdentifier": "v_sentiment_daily",
                                                 "ColumnName": "calls_with_sentiment"}
    assert "TargetValues" not in kpis["Calls"]
    columns = {f["Column"]["ColumnName"] for f in _fields(visuals["calls-0"])}
    assert {"customer_ended", "customer_moved", "customer_sentiment_shift"} <= columns
    assert {"loudness", "sentiment_score"} <= {f["Column"]["ColumnName"] for f in _fields(visuals["call-2"])}
    assert {"customer_ended", "customer_moved", "customer_ended_happier"} <= dict(dataset_columns("v_call_contacts")).keys()


def test_the_quality_sheet_reads_the_evaluation_views(assets):
    """Issue 23: agents by evaluation score (the call-weighted average of v_evaluation_scores), the weekly
    scorecard's counts per agent and form, the average score per week; the From/To range filters the weekly view
    by its week_start (it has no dt)."""
    definition = assets.dashboard["Definition"]
    quality = next(s for s in definition["Sheets"] if s["SheetId"] == "quality")
    visuals = {next(iter(v.values()))["Title"]["FormatText"]["PlainText"]: v for v in quality["Visuals"]}
    assert set(visuals) == {"Agents by evaluation score", "Evaluation scorecard", "Average evaluation score per week"}
    bar = visuals["Agents by evaluation score"]["BarChartVisual"]["ChartConfiguration"]["FieldWells"][
        "BarChartAggregatedFieldWells"]
    assert bar["Category"][0]["CategoricalDimensionField"]["Column"] == {"DataSetIdentifier": "v_evaluation_scores",
                                                                         "ColumnName": "agent_username"}
    measure = bar["Values"][0]["NumericalMeasureField"]
    assert measure["Column"]["ColumnName"] == "score_pct"
    assert measure["AggregationFunction"] == {"SimpleNumericalAggregation": "AVERAGE"}
    table = visuals["Evaluation scorecard"]["TableVisual"]["ChartConfiguration"]["FieldWells"]["TableAggregatedFieldWells"]
    assert [g["CategoricalDimensionField"]["Column"]["ColumnName"] for g in table["GroupBy"]] == ["form", "agent_username"]
    assert {v["NumericalMeasureField"]["Column"]["DataSetIdentifier"] for v in table["Values"]} == {
        "v_agent_scorecard_weekly"}
    line = visuals["Average evaluation score per week"]["LineChartVisual"]["ChartConfiguration"]["FieldWells"][
        "LineChartAggregatedFieldWells"]
    assert line["Category"][0]["DateDimensionField"]["DateGranularity"] == "WEEK"
    assert line["Category"][0]["DateDimensionField"]["Column"]["DataSetIdentifier"] == "v_evaluation_scores"
    declared = {d["Identifier"] for d in definition["DataSetIdentifierDeclarations"]}
    assert {"v_evaluation_scores", "v_agent_scorecard_weekly"} <= declared
    dates = {g["FilterGroupId"]: g["Filters"][0]["TimeRangeFilter"]["Column"] for g in definition["FilterGroups"]
             if g["FilterGroupId"].startswith("dates-")}
    assert dates["dates-v_agent_scorecard_weekly"] == {"DataSetIdentifier": "v_agent_scorecard_weekly",
                                                       "ColumnName": "week_start"}
    assert dates["dates-v_evaluation_scores"]["ColumnName"] == "dt"
    weekly = next(d for d in assets.data_sets if d["PhysicalTableMap"]["view"]["RelationalTable"]["Name"]
                  == "v_agent_scorecard_weekly")
    assert dict((c["Name"], c["Type"]) for c in weekly["PhysicalTableMap"]["view"]["RelationalTable"]["InputColumns"])[
        "week_start"] == "DATETIME"
