"""The deferrable Transcribe trigger: importable from the package, serializable, on a real botocore waiter."""

from __future__ import annotations

import importlib

import boto3


def test_trigger_serializes_to_an_importable_class_and_back():
    from pipeline.aws.triggers import TranscriptionJobCompletedTrigger

    trigger = TranscriptionJobCompletedTrigger(job_name="aftercall-abc", waiter_delay=5, waiter_max_attempts=3,
                                               region_name="eu-west-1")
    classpath, kwargs = trigger.serialize()
    module, _, name = classpath.rpartition(".")
    again = getattr(importlib.import_module(module), name)(**kwargs)
    assert classpath == "pipeline.aws.triggers.TranscriptionJobCompletedTrigger"
    assert again.serialize() == (classpath, kwargs) and kwargs["job_name"] == "aftercall-abc"
    assert again.hook().client_type == "transcribe"


def test_the_waiter_it_names_exists_in_botocore():
    from pipeline.aws.triggers import TranscriptionJobCompletedTrigger

    trigger = TranscriptionJobCompletedTrigger(job_name="aftercall-abc", region_name="eu-west-1")
    client = boto3.client("transcribe", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    waiter = client.get_waiter(trigger.waiter_name)
    assert waiter.name == "TranscriptionJobCompleted"
    assert trigger.hook().get_waiter(trigger.waiter_name, client=client).name == "TranscriptionJobCompleted"
