"""The framework module a training job's toolkit process runs (``SAGEMAKER_TRAINING_MODULE``).

It does what the SageMaker scikit-learn image's ``sagemaker_sklearn_container.training:main``
does, plus ``capture_error=True`` as the PyTorch and TensorFlow images pass: the toolkit then puts
the script's error output into ``/opt/ml/output/failure``, which becomes the FailureReason.
"""

from __future__ import annotations

from sagemaker_training import entry_point, environment, runner


def main() -> None:
    env = environment.Environment()
    entry_point.run(
        uri=env.module_dir,
        user_entry_point=env.user_entry_point,
        args=env.to_cmd_args(),
        env_vars=env.to_env_vars(),
        capture_error=True,
        runner_type=runner.ProcessRunnerType,
    )
