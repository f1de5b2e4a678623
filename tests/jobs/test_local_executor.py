"""The local executor runs real subprocesses: output, exit codes, timeouts, stops, limits."""

from __future__ import annotations

from apps.jobs.executors import supervise
from apps.jobs.executors.output import READ_LIMIT
from apps.jobs.executors.process import group_alive
from tests.jobs.helpers import pid_alive, run_job, stop_after, stops, wait_dead


def test_stdout_and_stderr_are_captured_line_by_line_in_order(tmp_path):
    run = run_job(tmp_path, "for i in $(seq 1 300); do echo out$i; echo err$i >&2; done")

    assert run.result.status == "succeeded"
    assert run.result.exit_code == 0
    assert run.stream("stdout") == [f"out{i}" for i in range(1, 301)]
    assert run.stream("stderr") == [f"err{i}" for i in range(1, 301)]
    assert all(len(batch) <= supervise.FLUSH_LINES for batch in run.batches)


def test_output_arrives_while_the_job_runs(tmp_path):
    """Lines are handed over in small batches as they come, not at the end."""
    run = run_job(tmp_path, "echo first; sleep 1; echo second")

    assert run.stream("stdout") == ["first", "second"]
    first_batch = next(batch for batch in run.batches if any(line.line == "first" for line in batch))
    assert all(line.line != "second" for line in first_batch)
    second = next(line for line in run.lines if line.line == "second")
    first = next(line for line in run.lines if line.line == "first")
    assert (second.ts - first.ts).total_seconds() >= 0.9


def test_non_zero_exit_fails_with_the_code(tmp_path):
    run = run_job(tmp_path, "echo trying; exit 3")

    assert run.result.status == "failed"
    assert run.result.exit_code == 3
    assert run.result.error_class == "NonZeroExit"
    assert "3" in run.result.error_message


def test_a_process_killed_by_a_signal_fails_with_the_shell_exit_code(tmp_path):
    run = run_job(tmp_path, "kill -SEGV $$")

    assert run.result.status == "failed"
    assert run.result.exit_code == 139
    assert "SIGSEGV" in run.result.error_message


def test_last_non_empty_stdout_line_that_is_a_json_object_becomes_the_output(tmp_path):
    run = run_job(tmp_path, """echo plan; echo '{"changed": 2, "hosts": ["a"]}'; echo '' ; echo warn >&2""")
    assert run.result.output == {"changed": 2, "hosts": ["a"]}

    assert run_job(tmp_path, """echo '{"a": 1}'; echo done""").result.output is None
    assert run_job(tmp_path, "echo '[1, 2]'").result.output is None
    assert run_job(tmp_path, "echo '{not json'").result.output is None


def test_failed_job_keeps_its_json_output(tmp_path):
    run = run_job(tmp_path, """echo '{"reason": "disk full"}'; exit 2""")

    assert run.result.status == "failed"
    assert run.result.output == {"reason": "disk full"}


def test_scripts_run_with_their_interpreter_in_a_working_directory_removed_afterwards(tmp_path):
    bash = run_job(tmp_path, 'declare -A seen=([x]=1); echo "dir=$PWD"; echo "n=${#seen[@]}"', kind="script")
    python = run_job(tmp_path, "import os, sys\nprint('py', sys.version_info[0])\nprint(os.getcwd())",
                     kind="script", interpreter="python")
    sh = run_job(tmp_path, 'echo "sh says $0"', kind="script", interpreter="sh")

    assert bash.result.status == "succeeded", bash.lines
    workdir = bash.stream("stdout")[0].removeprefix("dir=")
    assert workdir.startswith(str(tmp_path))
    assert bash.stream("stdout")[1] == "n=1"
    assert python.stream("stdout")[0] == "py 3"
    assert sh.stream("stdout")[0].startswith("sh says ") and sh.stream("stdout")[0].endswith(".sh")
    assert list(tmp_path.iterdir()) == []  # every job directory removed


def test_unknown_interpreter_fails_with_config_error(tmp_path):
    run = run_job(tmp_path, "print(1)", kind="script", interpreter="perl6")

    assert run.result.status == "failed"
    assert run.result.error_class == "ConfigError"
    assert run.lines == []


def test_job_sees_its_env_but_not_the_workers_secrets(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://user:worker-db-password@db/opsflow")
    run = run_job(tmp_path, 'echo "pkg=$OPSFLOW_VAR_PACKAGE"; echo "db=${DATABASE_URL:-unset}"',
                  env={"OPSFLOW_VAR_PACKAGE": "openssl"})

    assert run.stream("stdout") == ["pkg=openssl", "db=unset"]


def test_timeout_sends_sigterm_then_sigkill_to_a_process_that_traps_term(tmp_path):
    script = "trap 'echo got TERM' TERM\necho pid=$$\nwhile true; do sleep 0.2; done"
    run = run_job(tmp_path, script, kind="script", timeout_seconds=1, grace=1.0)

    assert run.result.status == "timeout"
    assert run.result.error_class == "Timeout"
    assert "1 seconds" in run.result.error_message
    assert "Sending SIGTERM" in run.system
    assert "sent SIGKILL" in run.system
    assert "Verified: no process of the job is still running." in run.system
    assert 2.0 <= run.seconds < 6.0  # timeout 1 s + grace 1 s, then bounded
    assert not group_alive(run.value("pid"))


def test_timeout_of_a_process_that_exits_on_term_needs_no_sigkill(tmp_path):
    run = run_job(tmp_path, "echo pid=$$; exec sleep 30", timeout_seconds=1, grace=5.0)

    assert run.result.status == "timeout"
    assert run.result.exit_code == 143  # 128 + SIGTERM
    assert "sent SIGKILL" not in run.system
    assert run.seconds < 4.0


def test_kill_stop_leaves_no_process_not_even_a_background_grandchild(tmp_path):
    script = "trap '' TERM\nsleep 100 &\necho child=$!\necho pid=$$\nwhile true; do sleep 0.2; done"
    run = run_job(tmp_path, script, kind="script", stop=stop_after(0.5, "kill"), grace=1.0)

    assert run.result.status == "canceled"
    assert "kill" in run.result.error_message
    assert "Stop requested (kill)." in run.system
    assert "Verified: no process of the job is still running." in run.system
    assert not group_alive(run.value("pid"))
    assert wait_dead(run.value("child"))
    assert run.seconds < 6.0


def test_term_stop_cancels_the_job(tmp_path):
    run = run_job(tmp_path, "sleep 100 & echo child=$!; echo pid=$$; wait", stop=stop_after(0.5, "term"))

    assert run.result.status == "canceled"
    assert "Stop requested (term)." in run.system
    assert not pid_alive(run.value("child"))
    assert not group_alive(run.value("pid"))


# --- cancel tiers (DESIGN §6): force = SIGTERM only; kill = SIGTERM, SIGKILL, verified ------
IGNORES_TERM = "trap '' TERM\necho pid=$$\n"


def test_a_normal_end_reports_the_process_group_and_is_verified_stopped(tmp_path):
    run = run_job(tmp_path, "echo pid=$$")

    assert run.result.status == "succeeded"
    assert run.pgid == run.value("pid")  # the job's shell leads its own process group
    assert run.result.verified_stopped is True


def test_force_stop_sends_sigterm_only_and_the_job_lasts_as_long_as_its_processes(tmp_path):
    run = run_job(tmp_path, IGNORES_TERM + "sleep 2", kind="script", stop=stop_after(0.3, "term"), grace=0.5)

    assert run.result.status == "canceled"
    assert "Stop requested (term)." in run.system
    assert "no SIGKILL follows" in run.system
    assert "sent SIGKILL" not in run.system
    assert run.result.exit_code == 0  # it ignored SIGTERM and finished its sleep
    assert run.seconds >= 1.9
    assert run.result.verified_stopped is True
    assert not group_alive(run.pgid)


def test_force_stop_of_a_job_that_honours_sigterm_ends_it_verified(tmp_path):
    run = run_job(tmp_path, "echo pid=$$; exec sleep 30", stop=stop_after(0.3, "term"), grace=5.0)

    assert run.result.status == "canceled"
    assert run.result.exit_code == 143
    assert run.seconds < 3.0
    assert "Verified: no process of the job is still running." in run.system
    assert run.result.verified_stopped is True


def test_a_kill_after_a_force_stop_sends_sigkill_after_the_grace(tmp_path):
    run = run_job(tmp_path, IGNORES_TERM + "sleep 30", kind="script",
                  stop=stops((0.3, "term"), (1.2, "kill")), grace=1.0)

    assert run.result.status == "canceled"
    assert "Stop requested (term)." in run.system and "Stop requested (kill)." in run.system
    assert "sent SIGKILL" in run.system
    assert 2.0 <= run.seconds < 6.0  # kill read within ~1 s of 1.2 s, then 1 s of grace
    assert run.result.verified_stopped is True
    assert not group_alive(run.pgid)


def test_a_force_stopped_job_that_ignores_sigterm_is_still_bounded_by_its_timeout(tmp_path):
    run = run_job(tmp_path, IGNORES_TERM + "sleep 30", kind="script", stop=stop_after(0.3, "term"),
                  timeout_seconds=2, grace=0.5)

    assert run.result.status == "canceled"
    assert "outlived its timeout" in run.system
    assert "sent SIGKILL" in run.system
    assert 2.4 <= run.seconds < 5.0
    assert not group_alive(run.pgid)


def test_background_processes_left_behind_are_stopped_when_the_job_ends(tmp_path):
    run = run_job(tmp_path, "sleep 100 >/dev/null 2>&1 & echo child=$!; sleep 100 & echo holder=$!; exit 0")

    assert run.result.status == "succeeded"
    assert "background processes" in run.system
    assert wait_dead(run.value("child"))
    assert wait_dead(run.value("holder"))
    assert run.seconds < 5.0


def test_log_limit_drops_output_with_one_marker_while_the_job_keeps_running(tmp_path):
    done = tmp_path.parent / f"{tmp_path.name}-done"
    script = (
        "import sys\n"
        "for i in range(20000):\n"
        "    print(f'line {i:05d} ' + 'x' * 40)\n"
        "    print(f'err {i:05d}', file=sys.stderr)\n"
        f"open({str(done)!r}, 'w').write('finished')\n"
        "print('{\"total\": 20000}')\n"
        "sys.exit(7)\n"
    )
    run = run_job(tmp_path, script, kind="script", interpreter="python", limit=20_000)

    assert run.result.status == "failed"
    assert run.result.exit_code == 7
    assert done.read_text() == "finished"  # the process ran to its end
    markers = [line for line in run.lines if "Output truncated" in line.line]
    assert len(markers) == 1 and markers[0].stream == "system"
    stored = sum(len(line.line.encode()) + 1 for line in run.lines if line.stream != "system")
    assert stored <= 20_000
    assert run.result.log_truncated is True
    assert run.result.log_bytes > 20000 * 50  # everything it printed, dropped part included
    assert run.result.output == {"total": 20000}


def test_very_long_line_is_delivered_in_bounded_pieces(tmp_path):
    run = run_job(tmp_path, "python3 -c \"print('a' * 200000 + 'END')\"; echo next")

    stdout = run.stream("stdout")
    assert stdout[-1] == "next"
    assert "".join(stdout[:-1]) == "a" * 200000 + "END"
    assert all(len(piece) <= READ_LIMIT for piece in stdout)
    assert len(stdout) >= 4


def test_no_pipe_deadlock_with_5_mb_on_each_stream(tmp_path):
    # Everything to stdout first, then everything to stderr: a reader that waits for
    # stdout's end before reading stderr would deadlock once stderr's pipe buffer fills.
    script = (
        "import sys\n"
        "row = 'y' * 99\n"
        "for _ in range(50000): sys.stderr.write(row + '\\n')\n"
        "for _ in range(50000): sys.stdout.write(row + '\\n')\n"
    )
    run = run_job(tmp_path, script, kind="script", interpreter="python", timeout_seconds=60)

    assert run.result.status == "succeeded"
    assert len(run.stream("stdout")) == 50000
    assert len(run.stream("stderr")) == 50000
    assert run.result.log_bytes == 2 * 50000 * 100
    assert run.seconds < 30


def test_secrets_are_masked_single_multi_line_quoted_and_url_encoded(tmp_path):
    multi = "-----BEGIN KEY-----\nMIIBOgIBAAJBAK\n-----END KEY-----"
    script = (
        "set -x\n"
        "echo 'token=T0k3n-Value'\n"
        "printf '%s\\n' \"$KEY\"\n"
        "curl_url='https://api.example/?p=pa%20ss%27w0rd'\n"
        "echo \"$curl_url\"\n"
        "echo 'abc is short'\n"
    )
    run = run_job(
        tmp_path, script, kind="script",
        env={"KEY": multi}, secrets=["T0k3n-Value", multi, "pa ss'w0rd", "abc"],
    )

    text = "\n".join(line.line for line in run.lines)
    for leaked in ("T0k3n-Value", "MIIBOgIBAAJBAK", "BEGIN KEY", "pa%20ss%27w0rd", "pa ss"):
        assert leaked not in text
    assert "token=***" in run.stream("stdout")
    assert run.stream("stdout")[1:4] == ["***", "***", "***"]
    assert "https://api.example/?p=***" in run.stream("stdout")
    assert any(line.startswith("+ echo ") and "***" in line for line in run.stream("stderr"))  # set -x trace
    assert "abc is short" in run.stream("stdout")  # too short to mask (see redaction.py)


def test_masked_secret_in_json_output(tmp_path):
    run = run_job(tmp_path, """echo '{"password": "hunter2-long"}'""", secrets=["hunter2-long"])

    assert run.result.output == {"password": "***"}


def test_heartbeat_is_called_while_the_job_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(supervise, "HEARTBEAT_SECONDS", 0.2)
    run = run_job(tmp_path, "sleep 1.2")

    assert run.heartbeats >= 3


def test_stop_request_is_polled_about_once_a_second(tmp_path):
    calls = []

    def should_stop():
        calls.append(1)
        return ""

    run_job(tmp_path, "sleep 2.5", stop=should_stop)
    assert 1 <= len(calls) <= 4


def test_invalid_utf8_bytes_are_replaced_not_fatal(tmp_path):
    run = run_job(tmp_path, "printf 'caf\\303\\251 \\377 end\\n'")

    assert run.result.status == "succeeded"
    assert run.stream("stdout") == ["café \ufffd end"]
