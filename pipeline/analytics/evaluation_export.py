"""An evaluation form as Amazon Connect's ``CreateEvaluationForm`` request, checked against botocore's model.

The mapping, and what Connect's model cannot say (phrase questions, aftercall's pass mark, metrics
without a Contact Lens label): docs/evaluations.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pipeline.analytics.evaluations import METRICS, Form, Question, _window_text
from pipeline.exceptions import FormError

__all__ = ["export_form", "validation_report"]


def _even(n: int) -> list[float]:
    """``n`` weights of two decimals adding up to exactly 100 (NOT_WEIGHTED has no field of its own in Connect)."""
    share = math.floor(10000 / n) / 100
    return [share] * (n - 1) + [round(100 - share * (n - 1), 2)]


def _instructions(q: Question) -> str:
    source = q.answer
    if source.phrase is not None:
        what = f"aftercall answers: {source.phrase.participant or 'anyone'} says one of " \
               f"{', '.join(repr(p) for p in source.phrase.phrases[:10])} in {_window_text(source.phrase.window)}."
    elif source.category is not None:
        what = f"aftercall answers: category {source.category} present or absent."
    else:
        what = f"aftercall answers: metric {source.metric}."
    return " ".join(x for x in (q.instructions, what) if x)


def _option_scoring(score: int, points_based: bool) -> dict:
    return {"PointsConfiguration": {"PointValue": score}} if points_based else {"Score": score}


def _question_request(form: Form, q: Question, weight: float | None) -> dict:
    points_based = form.scoring.mode == "POINTS_BASED"
    item: dict[str, Any] = {"Title": q.title, "RefId": q.id, "Instructions": _instructions(q),
                            "NotApplicableEnabled": q.not_applicable, "QuestionType": q.kind}
    if q.kind == "NUMERIC":
        low, high = q.range  # type: ignore[misc]
        numeric: dict[str, Any] = {"MinValue": low, "MaxValue": high, "Options": [
            {"MinValue": o.min, "MaxValue": o.max, **_option_scoring(o.score, points_based),
             **({"AutomaticFail": True} if o.automatic_fail else {})} for o in q.options]}
        label = METRICS[q.answer.metric][1]  # type: ignore[index]
        if label:
            numeric["Automation"] = {"PropertyValue": {"Label": label}}
        item["QuestionTypeProperties"] = {"Numeric": numeric}
    else:
        single: dict[str, Any] = {"Options": [
            {"RefId": o.id, "Text": o.text, **_option_scoring(o.score, points_based),
             **({"AutomaticFail": True} if o.automatic_fail else {})} for o in q.options], "DisplayAs": "RADIO"}
        if q.answer.category is not None:  # Connect answers it from the Contact Lens rule of the same name
            present = next(o.id for o in q.options if o.when == "present")
            absent = next(o.id for o in q.options if o.when == "absent")
            single["Automation"] = {"Options": [{"RuleCategory": {
                "Category": q.answer.category, "Condition": "PRESENT", "OptionRefId": present}}],
                "DefaultOptionRefId": absent}
        item["QuestionTypeProperties"] = {"SingleSelect": single}
    if weight is not None:
        item["Weight"] = weight
    if points_based:
        item["ScoringConfiguration"] = {"PointsConfiguration": {
            "MaxPointValue": q.max_points, "MinPointValue": min(o.score for o in q.options)}}
    return {"Question": item}


def _thresholds(form: Form) -> list[dict]:
    low, high = form.scoring.needs_improvement_below, form.scoring.exceeds_expectations_from
    out = []
    if low is not None:
        out.append({"PerformanceCategory": "NEEDS_IMPROVEMENT", "MinScorePercentage": 0.0, "MaxScorePercentage": low})
    if high is not None:
        out.append({"PerformanceCategory": "EXCEEDS_EXPECTATIONS", "MinScorePercentage": high,
                    "MaxScorePercentage": 100.0})
    return out


def export_form(form: Form, instance_id: str, *, validate: bool = True) -> dict:
    """The ``CreateEvaluationForm`` request for ``form`` (``InstanceId``: the Connect instance's id), checked
    against botocore's model of the operation (a request Connect's API would refuse is a FormError)."""
    mode, weighted = form.scoring.mode, form.scoring.weighted
    questions = [q for _, q in form.questions()]
    q_weights: dict[str, float | None] = {q.id: None for q in questions}
    s_weights: dict[str, float | None] = {s.id: None for s in form.sections}
    if mode == "QUESTION_ONLY":
        q_weights = {q.id: float(q.weight or 0) for q in questions} if weighted else \
            dict(zip((q.id for q in questions), _even(len(questions)), strict=True))
    elif mode == "SECTION_ONLY":
        s_weights = {s.id: float(s.weight or 0) for s in form.sections} if weighted else \
            dict(zip((s.id for s in form.sections), _even(len(form.sections)), strict=True))
    items = []
    for section in form.sections:
        body: dict[str, Any] = {"Title": section.title, "RefId": section.id,
                                "Items": [_question_request(form, q, q_weights[q.id]) for q in section.questions]}
        if section.instructions:
            body["Instructions"] = section.instructions
        if s_weights[section.id] is not None:
            body["Weight"] = s_weights[section.id]
        items.append({"Section": body})
    strategy: dict[str, Any] = {"Mode": mode, "Status": "ENABLED"}
    if thresholds := _thresholds(form):
        strategy["ScoreThresholds"] = thresholds
    request: dict[str, Any] = {"InstanceId": instance_id, "Title": form.title, "Items": items,
                               "ScoringStrategy": strategy,
                               "Tags": {"aftercall:form": form.name, "aftercall:version": str(form.version)}}
    if form.description:
        request["Description"] = form.description
    if validate:
        problems = validation_report(request)
        if problems:
            raise FormError(form.name, None, f"the CreateEvaluationForm request is invalid: {problems}")
    return request


def validation_report(request: Mapping[str, Any]) -> str:
    """botocore's complaints about a ``CreateEvaluationForm`` request ('' when it is valid)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("connect")
    shape = model.operation_model("CreateEvaluationForm").input_shape
    report = ParamValidator().validate(dict(request), shape)
    if report.has_errors():
        return report.generate_report()
    return "; ".join(_over_max(request, shape, "")[:5])


def _over_max(value: Any, shape: Any, path: str) -> list[str]:
    """Values over the model's ``max``, which botocore's validator leaves to the service (it checks ``min`` only):
    an --instance-id of 200 characters passed, and Connect would refuse the request."""
    top = shape.metadata.get("max")
    problems = []
    if shape.type_name in ("string", "list", "map") and top is not None and len(value) > top:
        problems.append(f"Invalid length for parameter {path.lstrip('.') or 'input'}, value: {len(value)}, "
                        f"valid max length: {top}")
    elif shape.type_name in ("integer", "long", "double", "float") and top is not None and value > top:
        problems.append(f"Invalid value for parameter {path.lstrip('.')}, value: {value}, valid max value: {top}")
    if shape.type_name == "structure" and isinstance(value, Mapping):
        for key, item in value.items():
            if key in shape.members:
                problems += _over_max(item, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            problems += _over_max(item, shape.member, f"{path}[{i}]")
    elif shape.type_name == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            problems += _over_max(key, shape.key, f"{path}.{key}") + _over_max(item, shape.value, f"{path}.{key}")
    return problems
