"""Rotation test support: an in-process AWS Lambda Invoke endpoint (`lambda_harness`) and a
rotation function written like AWS's rotation templates (`template_function`).

Both run inside the pytest process and need no Coffer binary; `test_harness.py` tests them alone.
"""
