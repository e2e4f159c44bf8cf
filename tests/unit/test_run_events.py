"""The cause of a failed run in one line: pure functions over Dagster's serialized errors."""

from dagster._utils.error import SerializableErrorInfo

from anka_assets.run_events import one_line, root_cause


def err(message, cls="X", cause=None, context=None):
    return SerializableErrorInfo(message=message, stack=[], cls_name=cls, cause=cause, context=context)


def test_root_cause_skips_dagster_wrappers_and_module_paths():
    inner = err("anka_assets.gateway.types.ProbeFailed: teacher endpoint http://127.0.0.1:9/v1 cannot be reached "
                "(connection refused (errno 111))\n", "ProbeFailed",
                context=err("RuntimeError: no running event loop\n", "RuntimeError"))
    wrapper = err('dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op '
                  '"expanded_tasks"::\n', "DagsterExecutionStepExecutionError", cause=inner)
    assert root_cause(wrapper) == ("ProbeFailed: teacher endpoint http://127.0.0.1:9/v1 cannot be reached "
                                   "(connection refused (errno 111))")


def test_our_failure_is_its_description_in_one_line():
    failure = err("dagster._core.definitions.events.Failure: 1 seed file(s) need fixing:\nhukuk.yaml:5:18: bad\n",
                  "Failure")
    assert root_cause(failure) == "1 seed file(s) need fixing: hukuk.yaml:5:18: bad"
    assert one_line("a\n\nb\nc") == "a; b; c" and len(one_line("x" * 1000)) == 400


def test_dagsters_skipped_step_lines_are_not_warnings():
    import logging
    from types import SimpleNamespace

    from anka_assets.run_events import describe_record

    entry = lambda text: SimpleNamespace(dagster_event=None, user_message=text, level=logging.ERROR,  # noqa: E731
                                         step_key="raw_cot")
    assert describe_record("r", entry("Dependencies for step raw_cot were not executed: ['seed_tasks']. "
                                      "Not executing.")).kind == "log"
    assert describe_record("r", entry("warehouse x is locked by PID 1")).kind == "warning"
