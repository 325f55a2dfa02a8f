"""QuickSight as code: an Athena data source, one dataset per view, an analysis and a dashboard.

Built from ``quicksight/dashboard.yaml`` (the same sheets as the HTML report) and from settings
(account, region, workgroup, principal), never hard-coded. :func:`deploy` is idempotent:
every asset is described first, then updated (with its permissions) or created; the dashboard's
new version is published. :func:`spice_ingestions` names the refreshes the DAG starts after
each commit when datasets are SPICE (ingestion ids must match ``^[a-zA-Z0-9-_]+$``).

A ``list`` visual is a table of unaggregated rows, its headers the spec's labels. A sheet with a
``key`` (one call) gets a string parameter named after the key (``contact_id`` -> ``ContactId``)
and a filter, on that sheet only, of each of its datasets to the parameter's value; a list that
``opens`` it gets a click action that sets the parameter from the row's key and goes to the sheet.
"""

from __future__ import annotations

import logging
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pipeline.presentation.dashboard import Dashboard, Sheet, Visual, load_dashboard
from pipeline.settings import Settings

__all__ = ["Assets", "build_assets", "dataset_columns", "deploy", "spice_ingestions"]

log = logging.getLogger(__name__)

_TYPES = {"VARCHAR": "STRING", "BIGINT": "INTEGER", "INTEGER": "INTEGER", "HUGEINT": "INTEGER", "DOUBLE": "DECIMAL",
          "FLOAT": "DECIMAL", "TIMESTAMP": "DATETIME", "DATE": "DATETIME", "BOOLEAN": "BOOLEAN"}
_ACTIONS = {
    "data_source": ["DescribeDataSource", "DescribeDataSourcePermissions", "PassDataSource", "UpdateDataSource",
                    "DeleteDataSource", "UpdateDataSourcePermissions"],
    "data_set": ["DescribeDataSet", "DescribeDataSetPermissions", "PassDataSet", "DescribeIngestion", "ListIngestions",
                 "UpdateDataSet", "DeleteDataSet", "CreateIngestion", "CancelIngestion", "UpdateDataSetPermissions"],
    "analysis": ["RestoreAnalysis", "UpdateAnalysisPermissions", "DeleteAnalysis", "DescribeAnalysisPermissions",
                 "QueryAnalysis", "DescribeAnalysis", "UpdateAnalysis"],
    "dashboard": ["DescribeDashboard", "ListDashboardVersions", "UpdateDashboardPermissions", "QueryDashboard",
                  "UpdateDashboard", "DeleteDashboard", "DescribeDashboardPermissions", "UpdateDashboardPublishedVersion"],
}


@cache
def dataset_columns(view: str) -> tuple[tuple[str, str], ...]:
    """(name, QuickSight type) of a view's columns, from the view itself on an empty local lake."""
    from pipeline.adapters.duckdb_engine import connect

    with tempfile.TemporaryDirectory() as empty:
        con = connect(empty)
        try:
            described = con.execute(f"describe select * from {view}").fetchall()
        finally:
            con.close()
    return tuple((name, _TYPES.get(kind.split("(")[0], "STRING")) for name, kind, *_ in described)


def _dataset_id(prefix: str, view: str) -> str:
    return f"{prefix}-{view.replace('_', '-')}"


def _permissions(kind: str, principal: str | None) -> list[dict]:
    return [{"Principal": principal, "Actions": [f"quicksight:{a}" for a in _ACTIONS[kind]]}] if principal else []


def _column(view: str, name: str) -> dict:
    return {"DataSetIdentifier": view, "ColumnName": name}


# a keyed sheet opened from the menu (not from a list) shows no call rather than every call at once
_NO_KEY = "(none)"


def _parameter_name(key: str) -> str:
    """The parameter a keyed sheet is filtered by: ``contact_id`` -> ``ContactId`` (names are alphanumeric)."""
    return "".join(part.capitalize() for part in re.split(r"[^a-zA-Z0-9]+", key) if part)


def _field_id(vid: str, column: str) -> str:
    return f"{vid}-{column}"


def _unaggregated(view: str, column: str, vid: str, dashboard: Dashboard) -> dict:
    field_spec: dict[str, Any] = {"FieldId": _field_id(vid, column), "Column": _column(view, column)}
    if dashboard.unit(column) == "percent":  # the views hold shares as 0..1; QuickSight shows 0.25 as 25 %
        field_spec["FormatConfiguration"] = {"NumberFormatConfiguration": {"FormatConfiguration": {
            "PercentageDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {"DecimalPlaces": 1}}}}}
    return field_spec


def _open_action(visual: Visual, vid: str, target: Sheet) -> dict:
    """A click on a row sets the target sheet's parameter to the row's key, then shows that sheet."""
    key = target.key or ""
    if key not in [c.name for c in visual.columns]:
        raise ValueError(f"list {visual.title!r} opens {target.id!r} but lacks its key column {key!r}")
    return {"CustomActionId": f"{vid}-open-{target.id}", "Name": f"Open {target.name}", "Status": "ENABLED",
            "Trigger": "DATA_POINT_CLICK", "ActionOperations": [
                {"SetParametersOperation": {"ParameterValueConfigurations": [{
                    "DestinationParameterName": _parameter_name(key), "Value": {"SourceField": _field_id(vid, key)}}]}},
                {"NavigationOperation": {"LocalNavigationConfiguration": {"TargetSheetId": target.id}}}]}


def _list_visual(visual: Visual, vid: str, title: dict, dashboard: Dashboard) -> dict:
    """Rows as they are, labelled from the spec, in the report's order (column by column: the transcript by time)."""
    names = [c.name for c in visual.columns]
    config = {
        "FieldWells": {"TableUnaggregatedFieldWells": {
            "Values": [_unaggregated(visual.view, n, vid, dashboard) for n in names]}},
        "SortConfiguration": {"RowSort": [{"FieldSort": {"FieldId": _field_id(vid, n), "Direction": "ASC"}}
                                          for n in names]},
        "FieldOptions": {"SelectedFieldOptions": [{"FieldId": _field_id(vid, n), "CustomLabel": dashboard.label(n)}
                                                  for n in names]},
    }
    table: dict[str, Any] = {"VisualId": vid, "Title": title, "ChartConfiguration": config}
    if visual.opens:
        table["Actions"] = [_open_action(visual, vid, dashboard.sheet(visual.opens))]
    return {"TableVisual": table}


def _visual(visual: Visual, vid: str, dashboard: Dashboard) -> dict:
    title = {"Visibility": "VISIBLE", "FormatText": {"PlainText": visual.title}}
    if visual.type == "list":
        return _list_visual(visual, vid, title, dashboard)
    measures = [{"NumericalMeasureField": {"FieldId": f"{vid}-{m.name}", "Column": _column(visual.view, m.name),
                                           "AggregationFunction": {"SimpleNumericalAggregation": m.agg}}}
                for m in visual.measures()]
    if visual.type == "kpi":  # with ``of``: the count out of which the value is, as the KPI's target ("3 of 7")
        wells = {"Values": measures[:1], **({"TargetValues": measures[1:]} if visual.of else {})}
        return {"KPIVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {"FieldWells": wells}}}
    if visual.type == "line":
        day = {"DateDimensionField": {"FieldId": f"{vid}-dt", "Column": _column(visual.view, "dt"),
                                      "DateGranularity": "WEEK" if visual.period == "week" else "DAY"}}
        return {"LineChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {"FieldWells": {
            "LineChartAggregatedFieldWells": {"Category": [day], "Values": measures}}}}}
    dims = [{"CategoricalDimensionField": {"FieldId": f"{vid}-{d}", "Column": _column(visual.view, d)}}
            for d in visual.dimensions()]
    if visual.type == "bar":
        return {"BarChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
            "FieldWells": {"BarChartAggregatedFieldWells": {"Category": dims, "Values": measures}},
            "Orientation": "HORIZONTAL"}}}
    return {"TableVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {"FieldWells": {
        "TableAggregatedFieldWells": {"GroupBy": dims, "Values": measures}}}}}


def _key_parameters(dashboard: Dashboard) -> list[dict]:
    """One single-valued string parameter per sheet key (sheets with the same key share it: the same call)."""
    keys = dict.fromkeys(s.key for s in dashboard.sheets if s.key)
    return [{"StringParameterDeclaration": {"Name": _parameter_name(key), "ParameterValueType": "SINGLE_VALUED",
                                            "DefaultValues": {"StaticValues": [_NO_KEY]}}} for key in keys]


def _key_filter_groups(dashboard: Dashboard) -> list[dict]:
    """Each dataset of a keyed sheet, on that sheet only, filtered to the row whose key is the parameter's value."""
    groups = []
    for sheet in (s for s in dashboard.sheets if s.key):
        for view in dict.fromkeys(v.view for v in sheet.visuals):
            if sheet.key not in dict(dataset_columns(view)):
                raise ValueError(f"sheet {sheet.id!r} is keyed by {sheet.key!r}, which view {view} lacks")
            group_id = f"{sheet.id}-{view}-key"
            groups.append({
                "FilterGroupId": group_id, "CrossDataset": "SINGLE_DATASET", "Status": "ENABLED",
                "ScopeConfiguration": {"SelectedSheets": {"SheetVisualScopingConfigurations": [
                    {"SheetId": sheet.id, "Scope": "ALL_VISUALS"}]}},
                "Filters": [{"CategoryFilter": {
                    "FilterId": f"{group_id}-{sheet.key}", "Column": _column(view, sheet.key),
                    "Configuration": {"CustomFilterConfiguration": {
                        "MatchOperator": "EQUALS", "ParameterName": _parameter_name(sheet.key),
                        "NullOption": "NON_NULLS_ONLY"}}}}]})
    return groups


def _date_column(view: str) -> str:
    """The column the From/To range filters a view on: its day, or the week of a weekly view (week_start)."""
    names = dict(dataset_columns(view))
    if "dt" in names:
        return "dt"
    if "week_start" in names:
        return "week_start"
    raise ValueError(f"view {view} has neither dt nor week_start: the date range cannot filter it")


def _definition(dashboard: Dashboard, dataset_arns: dict[str, str]) -> dict:
    sheets = []
    for n, sheet in enumerate(dashboard.sheets):
        entry: dict[str, Any] = {"SheetId": sheet.id, "Name": sheet.name,
                                 "Visuals": [_visual(v, f"{sheet.id}-{i}", dashboard)
                                             for i, v in enumerate(sheet.visuals)]}
        if n == 0:  # the date range is picked on the first sheet and filters every sheet
            entry["ParameterControls"] = [
                {"DateTimePicker": {"ParameterControlId": "from-date", "Title": "From", "SourceParameterName": "FromDate"}},
                {"DateTimePicker": {"ParameterControlId": "to-date", "Title": "To", "SourceParameterName": "ToDate"}}]
        sheets.append(entry)
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": view, "DataSetArn": arn} for view, arn in dataset_arns.items()],
        "Sheets": sheets,
        "ParameterDeclarations": [
            {"DateTimeParameterDeclaration": {"Name": "FromDate", "TimeGranularity": "DAY", "DefaultValues": {
                "RollingDate": {"Expression": "addDateTime(-30, 'DD', truncDate('DD', now()))"}}}},
            {"DateTimeParameterDeclaration": {"Name": "ToDate", "TimeGranularity": "DAY", "DefaultValues": {
                "RollingDate": {"Expression": "truncDate('DD', now())"}}}},
            *_key_parameters(dashboard),
        ],
        "FilterGroups": [
            {"FilterGroupId": f"dates-{view}", "CrossDataset": "SINGLE_DATASET", "Status": "ENABLED",
             "ScopeConfiguration": {"AllSheets": {}},
             "Filters": [{"TimeRangeFilter": {
                 "FilterId": f"dates-{view}-{_date_column(view)}", "Column": _column(view, _date_column(view)),
                 "NullOption": "NON_NULLS_ONLY",
                 "IncludeMinimum": True, "IncludeMaximum": True, "TimeGranularity": "DAY",
                 "RangeMinimumValue": {"Parameter": "FromDate"}, "RangeMaximumValue": {"Parameter": "ToDate"}}}]}
            for view in dataset_arns] + _key_filter_groups(dashboard),
    }


@dataclass
class Assets:
    """Every create request, keyed by operation; updates are derived from them."""

    data_source: dict
    data_sets: list[dict]
    analysis: dict
    dashboard: dict
    ids: dict[str, str] = field(default_factory=dict)


def build_assets(settings: Settings, account_id: str, region: str, dashboard: Dashboard | None = None) -> Assets:
    dashboard = dashboard or load_dashboard()
    prefix, principal = settings.quicksight_prefix, settings.quicksight_principal_arn
    arn = f"arn:aws:quicksight:{region}:{account_id}"
    source_id = f"{prefix}-athena"
    data_source = {"AwsAccountId": account_id, "DataSourceId": source_id, "Name": f"{prefix} Athena ({settings.glue_database})",
                   "Type": "ATHENA", "DataSourceParameters": {"AthenaParameters": {"WorkGroup": settings.athena_workgroup}},
                   "Permissions": _permissions("data_source", principal)}
    data_sets, arns = [], {}
    from pipeline.analytics.sql import view_definitions

    for view in view_definitions():  # every view, for analysts' own analyses; the dashboard uses some
        set_id = _dataset_id(prefix, view)
        arns[view] = f"{arn}:dataset/{set_id}"
        columns = dataset_columns(view)
        logical: dict[str, Any] = {"Alias": view, "Source": {"PhysicalTableId": "view"}}
        if any(n == "dt" for n, _ in columns):
            logical["DataTransforms"] = [{"CastColumnTypeOperation": {"ColumnName": "dt", "NewColumnType": "DATETIME",
                                                                      "Format": "yyyy-MM-dd"}}]
        data_sets.append({
            "AwsAccountId": account_id, "DataSetId": set_id, "Name": f"{prefix} {view}",
            "ImportMode": settings.quicksight_import_mode,
            "PhysicalTableMap": {"view": {"RelationalTable": {
                "DataSourceArn": f"{arn}:datasource/{source_id}", "Catalog": "AwsDataCatalog",
                "Schema": settings.glue_database, "Name": view,
                "InputColumns": [{"Name": n, "Type": t} for n, t in columns]}}},
            "LogicalTableMap": {"days": logical},
            "Permissions": _permissions("data_set", principal),
        })
    definition = _definition(dashboard, {v: arns[v] for v in dashboard.views()})
    analysis = {"AwsAccountId": account_id, "AnalysisId": f"{prefix}-analysis", "Name": dashboard.name,
                "Definition": definition, "Permissions": _permissions("analysis", principal)}
    board = {"AwsAccountId": account_id, "DashboardId": f"{prefix}-dashboard", "Name": dashboard.name,
             "Definition": definition, "Permissions": _permissions("dashboard", principal),
             "DashboardPublishOptions": {"AdHocFilteringOption": {"AvailabilityStatus": "ENABLED"},
                                         "ExportToCSVOption": {"AvailabilityStatus": "ENABLED"}}}
    return Assets(data_source, data_sets, analysis, board)


def _exists(client: Any, describe: Callable[..., Any], **kwargs: Any) -> bool:
    try:
        describe(**kwargs)
        return True
    except client.exceptions.ResourceNotFoundException:
        return False


def _without(request: dict, *keys: str) -> dict:
    return {k: v for k, v in request.items() if k not in keys}


def deploy(client: Any, assets: Assets, *, dry_run: bool = False) -> list[str]:
    """Create or update every asset; returns what was (or, with ``dry_run``, would be) done."""
    done: list[str] = []
    account = assets.data_source["AwsAccountId"]

    def step(label: str, call: Callable[[], Any]) -> Any:
        done.append(label)
        return None if dry_run else call()

    ds = assets.data_source
    if _exists(client, client.describe_data_source, AwsAccountId=account, DataSourceId=ds["DataSourceId"]):
        step(f"update data source {ds['DataSourceId']}", lambda: client.update_data_source(
            **_without(ds, "Type", "Permissions")))
        if ds["Permissions"]:
            step(f"grant data source {ds['DataSourceId']}", lambda: client.update_data_source_permissions(
                AwsAccountId=account, DataSourceId=ds["DataSourceId"], GrantPermissions=ds["Permissions"]))
    else:
        step(f"create data source {ds['DataSourceId']}", lambda: client.create_data_source(**ds))
    for data_set in assets.data_sets:
        set_id = data_set["DataSetId"]
        if _exists(client, client.describe_data_set, AwsAccountId=account, DataSetId=set_id):
            step(f"update data set {set_id}", lambda d=data_set: client.update_data_set(**_without(d, "Permissions")))
            if data_set["Permissions"]:
                step(f"grant data set {set_id}", lambda d=data_set: client.update_data_set_permissions(
                    AwsAccountId=account, DataSetId=d["DataSetId"], GrantPermissions=d["Permissions"]))
        else:
            step(f"create data set {set_id}", lambda d=data_set: client.create_data_set(**d))
    an = assets.analysis
    if _exists(client, client.describe_analysis, AwsAccountId=account, AnalysisId=an["AnalysisId"]):
        step(f"update analysis {an['AnalysisId']}", lambda: client.update_analysis(**_without(an, "Permissions")))
        if an["Permissions"]:
            step(f"grant analysis {an['AnalysisId']}", lambda: client.update_analysis_permissions(
                AwsAccountId=account, AnalysisId=an["AnalysisId"], GrantPermissions=an["Permissions"]))
    else:
        step(f"create analysis {an['AnalysisId']}", lambda: client.create_analysis(**an))
    db = assets.dashboard
    if _exists(client, client.describe_dashboard, AwsAccountId=account, DashboardId=db["DashboardId"]):
        response = step(f"update dashboard {db['DashboardId']}", lambda: client.update_dashboard(
            **_without(db, "Permissions")))
        if response is not None:
            version = int(response["VersionArn"].rsplit("/", 1)[-1])
            step(f"publish dashboard version {version}", lambda: client.update_dashboard_published_version(
                AwsAccountId=account, DashboardId=db["DashboardId"], VersionNumber=version))
        if db["Permissions"]:
            step(f"grant dashboard {db['DashboardId']}", lambda: client.update_dashboard_permissions(
                AwsAccountId=account, DashboardId=db["DashboardId"], GrantPermissions=db["Permissions"]))
    else:
        step(f"create dashboard {db['DashboardId']}", lambda: client.create_dashboard(**db))
    return done


def spice_ingestions(settings: Settings, run_id: str, dashboard: Dashboard | None = None) -> list[dict]:
    """One ``{data_set_id, ingestion_id}`` per dataset to refresh after a run (none unless SPICE)."""
    if settings.quicksight_import_mode != "SPICE":
        return []
    run = re.sub(r"[^a-zA-Z0-9-_]", "-", run_id)
    token = uuid.uuid4().hex[:8]  # a cleared and re-run task must not reuse an ingestion id
    from pipeline.analytics.sql import view_definitions

    return [{"data_set_id": _dataset_id(settings.quicksight_prefix, view),
             "ingestion_id": f"{run}-{token}"[-128:]}
            for view in view_definitions()]
