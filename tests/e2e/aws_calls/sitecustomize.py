"""Test-only: record every AWS API call a process makes (its children too), one JSON line each.

On ``PYTHONPATH`` only in tests/e2e/test_aws_cli_moto_server.py, and active only when
``AFTERCALL_TEST_AWS_CALLS`` names the file to append to: ``{"service", "operation", "params"}`` per call,
``service`` being the IAM prefix (the signing name: s3, glue, athena, transcribe, comprehend, sts).
"""

import os

_PATH = os.environ.get("AFTERCALL_TEST_AWS_CALLS")

if _PATH:
    import json

    import botocore.client

    _original = botocore.client.BaseClient._make_api_call

    def _recorded(self, operation_name, api_params):
        model = self.meta.service_model
        params = {k: v for k, v in api_params.items() if k != "Body"}
        line = json.dumps({"service": model.signing_name or model.endpoint_prefix, "operation": operation_name,
                           "params": params}, default=str)
        fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        return _original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = _recorded
