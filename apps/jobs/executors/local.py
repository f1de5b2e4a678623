"""The local executor: a job as a subprocess of the jobs worker, in its own process group.

- A command runs as `/bin/sh -c <command>`; a script is written to a file in the job's
  own directory under OPSFLOW_JOBS_DIR and run by its interpreter. The directory (and
  with it any secret rendered into the script) is removed when the job ends.
- The job does not inherit the worker's environment (DATABASE_URL, SECRET_KEY and the
  encryption keys live there): it gets a few harmless variables plus the spec's env.
- Timeout and stop requests (executors/supervise.py): SIGTERM to the group; SIGKILL after
  the grace period, except for a force (`term`) stop; then a check that no process of the
  group is left, reported as a system log line and as `JobResult.verified_stopped`.
- The job's lifetime is its main process: background processes it leaves behind are
  stopped the same way once it exits, so nothing keeps running unsupervised.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from apps.jobs.executors.base import Heartbeat, JobResult, JobSpec, JobSpecError, OnLines, OnStart, ShouldStop
from apps.jobs.executors.output import OutputCollector
from apps.jobs.executors.process import group_alive
from apps.jobs.executors.supervise import Supervision
from apps.jobs.models import JobStatus
from apps.jobs.redaction import Masker

logger = logging.getLogger(__name__)

INTERPRETERS = {"bash": "bash", "sh": "sh", "python": "python3", "python3": "python3"}
SCRIPT_SUFFIX = {"bash": ".sh", "sh": ".sh", "python": ".py", "python3": ".py"}
# The job's stdout and stderr pipes hold this much (Linux's default is 64 KiB): a job that
# prints faster than its lines can be stored then waits with little output queued, so
# that what viewers see stays close to what the job just printed.
PIPE_BYTES = 16 * 1024
INHERITED_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def job_environment(extra: dict[str, str]) -> dict[str, str]:
    env = {name: os.environ[name] for name in INHERITED_ENV if name in os.environ}
    env.setdefault("PATH", DEFAULT_PATH)
    env["PYTHONUNBUFFERED"] = "1"  # Python scripts' output arrives line by line, not at exit
    env.update({str(name): str(value) for name, value in extra.items()})
    return env


@contextmanager
def job_directory(base: Path) -> Iterator[Path]:
    base.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="job-", dir=base))  # mode 0700
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def job_argv(spec: JobSpec, directory: Path, env: dict[str, str]) -> list[str]:
    if spec.kind == "command":
        return ["/bin/sh", "-c", spec.command]
    name = spec.interpreter or "bash"
    if name not in INTERPRETERS:
        raise JobSpecError("ConfigError", f"Unknown script interpreter {name!r}; use bash, sh or python.")
    program = shutil.which(INTERPRETERS[name], path=env.get("PATH"))
    if program is None:
        raise JobSpecError("ConfigError", f"Interpreter {INTERPRETERS[name]!r} is not installed on this worker.")
    script = directory / f"script{SCRIPT_SUFFIX[name]}"
    script.write_text(spec.command, encoding="utf-8")
    script.chmod(0o700)
    return [program, str(script)]


def shrink_pipes(process: subprocess.Popen[bytes]) -> None:
    if not hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux only
        return
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                fcntl.fcntl(pipe.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def parse_output(line: str) -> object:
    """The last non-empty stdout line becomes the job's output if it is a JSON object."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class LocalExecutor:
    def __init__(
        self,
        *,
        jobs_dir: Path | None = None,
        kill_grace_seconds: float | None = None,
        log_limit_bytes: int | None = None,
    ) -> None:
        self.jobs_dir = Path(jobs_dir or settings.OPSFLOW_JOBS_DIR)
        self.grace = settings.OPSFLOW_KILL_GRACE_SECONDS if kill_grace_seconds is None else kill_grace_seconds
        self.log_limit = settings.OPSFLOW_JOB_LOG_LIMIT_BYTES if log_limit_bytes is None else log_limit_bytes

    def run(
        self, spec: JobSpec, *, on_lines: OnLines, should_stop: ShouldStop, heartbeat: Heartbeat,
        on_start: OnStart | None = None,
    ) -> JobResult:
        env = job_environment(spec.env)
        with job_directory(self.jobs_dir) as directory:
            try:
                argv = job_argv(spec, directory, env)
            except JobSpecError as exc:
                return JobResult.error(exc.error_class, exc.message)
            collector = OutputCollector(Masker(spec.secrets), limit_bytes=self.log_limit)
            process = subprocess.Popen(  # noqa: S603 - running the operator's command is the point
                argv,
                cwd=spec.workdir or directory,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
            shrink_pipes(process)
            supervision = Supervision(
                process, collector, spec=spec, grace=self.grace,
                on_lines=on_lines, should_stop=should_stop, heartbeat=heartbeat,
            )
            try:
                if on_start is not None:
                    self._started(on_start, process.pid)
                supervision.run()
            finally:
                supervision.ensure_gone()
        result = job_result(spec, process.returncode, supervision, collector)
        result.verified_stopped = not group_alive(process.pid)
        return result

    @staticmethod
    def _started(on_start: OnStart, pgid: int) -> None:
        try:
            on_start(pgid)
        except Exception:  # recording the group is for operators; the job runs on without it
            logger.warning("could not record the process group %s of a job", pgid, exc_info=True)


def job_result(spec: JobSpec, code: int | None, run: Supervision, collector: OutputCollector) -> JobResult:
    """How a supervised job ended (`code`: its exit status, negative for a signal)."""
    exit_code = 128 - code if code is not None and code < 0 else code
    result = JobResult(
        status=JobStatus.SUCCEEDED,
        exit_code=exit_code,
        output=parse_output(collector.last_stdout),
        log_bytes=collector.bytes_total,
        log_truncated=collector.truncated,
    )
    if run.stop_mode:
        result.status = JobStatus.CANCELED
        result.error_message = f"Stopped on request ({run.stop_mode})."
    elif run.timed_out:
        result.status, result.error_class = JobStatus.TIMEOUT, "Timeout"
        result.error_message = f"The job did not finish within its timeout of {spec.timeout_seconds} seconds."
    elif code != 0:
        result.status, result.error_class = JobStatus.FAILED, "NonZeroExit"
        result.error_message = exit_message(code)
    return result


def exit_message(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"The process was killed by {name} (exit code {128 - code})."
    return f"The process exited with code {code}."
