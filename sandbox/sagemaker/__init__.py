"""SageMaker jobs that really run, models, and the Model Registry, for the offline sandbox.

moto answers every SageMaker call with "Completed" and runs nothing. Here processing, training and
batch transform jobs run their scripts as local processes (one process group per job, at most
``--max-concurrent-jobs`` at once), read their inputs from and write their outputs to the sandbox's
S3, and stream their output to CloudWatch Logs under SageMaker's log group and stream names.

Modules: service.py (API handlers, state per account and region), jobs.py (job records and
statuses), runner.py (one thread per job: fault, slot, run, finish), scheduler.py (job slots),
process.py (the job process and its logs), processing.py / training.py / transform.py (what each
job type does), transform_worker.py + serving.py (the batch transform process and the SKLearn
serving contract), train_entry.py (the toolkit's framework module), registry.py (models, package
groups, packages), tags.py, moto_bridge.py (models mirrored into moto, tags of moto's resources),
listing.py (List* filters and pagination), validation.py (request validation and Describe echo
from botocore's model), containers.py (/opt/ml, python and environment), s3io.py.

Timing: a job stays InProgress for at least 0.5 s before it starts (instances take minutes on
AWS), so a Describe right after Create always sees InProgress; a stopped job shows Stopping for at
least 0.3 s. Output reaches CloudWatch Logs within about half a second of being printed.

Fidelity gaps -- what differs from AWS, on purpose or by necessity:

* No container image is pulled or run. Scripts run with the sandbox's own Python
  (``sys.executable``) and its installed packages, whatever the image URI says; ``python`` /
  ``python3`` as the entrypoint's first word means that interpreter. A job that needs a package the
  image has and the project's environment lacks fails here and not on AWS (and vice versa).
* ``/opt/ml`` is a per-job directory (``<state>/jobs/<kind>/<job>``; other regions than the default
  under ``<state>/jobs/<region>/``). Where ``bwrap`` can create mount namespaces (``python -m sandbox
  status`` says which), each job process runs in its own, with that directory mounted at ``/opt/ml``
  and the other jobs' directories hidden: scripts that hard-code ``/opt/ml`` work. The rest of the
  host's file system (``/tmp`` included) is shared, and there is no PID or network namespace.
  Elsewhere the path is only rewritten in the entrypoint, arguments, environment values and
  hyperparameter values, not inside scripts. ``config/processingjobconfig.json`` keeps the real
  ``/opt/ml`` paths, as AWS writes it.
* ``--max-concurrent-jobs`` (default 4) is an account quota per job type: a Create that would put more
  jobs of its type InProgress is refused with ResourceLimitExceeded, as AWS refuses jobs over a quota
  (AWS's quotas are per instance type and job type). ``--queue-excess-jobs`` lets them wait InProgress
  instead, which AWS never does.
* Describe* fills in what AWS reports for members a request left out (``KmsKeyId: ""``, channel
  ``CompressionType: "None"``, ...), from one table keyed by botocore shape name (defaults.py).
* The process environment is the host's PATH/HOME/locale, the sandbox endpoint and dummy
  credentials (so boto3 inside a job reaches the sandbox), PYTHONUNBUFFERED=1, then the request's
  Environment. No IAM: RoleArn must look like a role ARN but grants nothing and restricts nothing.
* Instance types, volume sizes and KMS keys are accepted and have no effect; jobs get the host's
  CPUs (SM_NUM_CPUS) and memory. VpcConfig / NetworkConfig / EnableNetworkIsolation /
  EnableInterContainerTrafficEncryption are not enforced (a job can always reach the sandbox).
  EnableManagedSpotTraining runs on demand; RetryStrategy never triggers (there are no internal
  errors to retry); DebugHookConfig and ProfilerConfig are accepted and produce nothing.
* Stop and MaxRuntimeInSeconds send SIGTERM to the job's process group and SIGKILL 3 s later
  (SageMaker waits 120 s). A training job over MaxRuntimeInSeconds ends Stopped with
  SecondaryStatus MaxRuntimeExceeded (documented AWS behaviour) and uploads model/ if it wrote
  anything; a processing job over it ends Stopped with an ExitMessage saying so (unverified against
  AWS). Transform jobs have no StoppingCondition.
* Training is script mode through the ``sagemaker-training`` toolkit, or the request's own
  ``ContainerEntrypoint``/``ContainerArguments`` (SDK v3's ModelTrainer) run with the job's /opt/ml and
  the sandbox's python first on PATH. Script mode runs the toolkit with
  ``capture_error=True`` (so the failure file holds the script's error output, as with the
  PyTorch/TensorFlow images; the scikit-learn image leaves ErrorMessage empty). The toolkit's DNS
  wait for ``algo-1`` is skipped (SM_STUDIO_LOCAL_MODE=true). requirements.txt in the source
  directory is pip-installed by the toolkit, as on AWS, which needs network access.
* Batch transform always uses the scikit-learn serving contract (serving.py), whatever the model's
  image; requests are handled one at a time (MaxConcurrentTransforms is echoed, not used),
  ModelClientConfig.InvocationsTimeoutInSeconds is enforced per request but failed invocations are
  not retried (InvocationsMaxRetries). Blank lines are not sent as records. An unset BatchStrategy
  means MultiRecord. AssembleWith=Line appends a newline after every response.
* A processing container's ``/opt/ml/output/message`` becomes the job's ExitMessage (its first 1 KB, whatever
  the job's end), as AWS documents; a training container's ``/opt/ml/output/failure`` becomes FailureReason.
* FailureReason texts follow AWS's shape ("AlgorithmError: ...") and add the exit code and the
  last lines of stderr; they are capped at 1024 characters, keeping both ends. A duplicate job name
  is ResourceInUse ("Training job names must be unique within an AWS account and region, ..."), as
  AWS answers; a missing job is ValidationException "Requested resource not found.".
* Endpoints, endpoint configs and everything else not listed in service.py are still moto's; moto's
  endpoint configs see the sandbox's models because CreateModel/DeleteModel are mirrored into moto.
  Endpoints do not serve anything.
* Billing: BillableTimeInSeconds = TrainingTimeInSeconds = wall time from the start of the input
  download to the end, at least 1.

Refused at Create with "the sandbox does not emulate ..." (a ValidationException), never ignored:

* every job: InstanceCount > 1 (and training InstanceGroups); https:// S3 URIs.
* processing: no ContainerEntrypoint (the image's own entrypoint); DatasetDefinition inputs
  (Athena/Redshift); S3InputMode Pipe; S3DataType ManifestFile; S3CompressionType Gzip;
  S3UploadMode Continuous; FeatureStoreOutput; AppManaged inputs/outputs. LocalPaths must be under
  /opt/ml/processing, as AWS requires.
* training: neither ContainerEntrypoint nor sagemaker_program / sagemaker_submit_directory
  hyperparameters (the image's own code), ContainerArguments without ContainerEntrypoint,
  ContainerEntrypoint where jobs cannot get a private /opt/ml (no bwrap), AlgorithmName, TrainingInputMode or channel
  InputMode Pipe/FastFile, S3DataType ManifestFile/AugmentedManifestFile/Converse, AttributeNames,
  FileSystemDataSource, channel CompressionType Gzip, RecordWrapperType RecordIO, ShuffleConfig,
  OutputDataConfig.CompressionType NONE, CheckpointConfig, TensorBoardOutputConfig, Debugger and
  Profiler rules, ServerlessJobConfig, MlflowConfig, ModelPackageConfig.
* transform: S3DataType other than S3Prefix, SplitType RecordIO/TFRecord, DataProcessing filters
  or JoinSource, DataCaptureConfig, MaxPayloadInMB 0 (chunked), models with several containers
  (inference pipelines), Mode MultiModel, ModelDataSource.
"""
