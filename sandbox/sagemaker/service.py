"""Placeholder: the SageMaker service is being built."""

from __future__ import annotations


class SageMakerService:
    name = "sagemaker"
    operations: frozenset[str] = frozenset()

    def __init__(self, ctx):
        self.ctx = ctx

    def handle(self, operation, params, request):
        raise NotImplementedError(operation)

    def status(self):
        return {}

    def reset(self):
        pass

    def shutdown(self):
        pass
