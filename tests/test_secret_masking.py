"""Known secret values never appear in task logs, XCom or exceptions (Airflow's secret masker)."""

from __future__ import annotations

import logging

import pytest

from tests.doubles import fixtures
from tests.doubles.fixtures import CLIENT_SECRET
from tests.doubles.http import Fault

pytestmark = [pytest.mark.graph, pytest.mark.dataverse]
microsoft = fixtures.microsoft


def _run(dag):
    """``dag.test()`` of a DAG defined here: it is first written to the metadata database."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        update_dag_parsing_results_in_db("dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(),
                                         session=session)
    return dag.test()


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s[:6] + "..." for s in secrets if s and s in text]


def test_hook_failures_carry_no_secret_or_token(microsoft, caplog):
    from plugins.hooks.dataverse import DataverseHook
    from plugins.hooks.graph import GraphFilesHook
    from plugins.hooks.http_retry import RequestFailed

    caplog.set_level(logging.DEBUG)
    microsoft.connect(max_attempts=2)
    microsoft.dataverse.table("crf63_labortimes", "crf63_labortimeid", ("crf63_businesskey",))
    graph, dataverse = GraphFilesHook(), DataverseHook()
    messages = []
    microsoft.graph.server.add_fault(Fault("/v1.0/", status=401, times=5))
    microsoft.dataverse.server.add_fault(Fault("/api/data", status=500, times=5))
    for call in (lambda: graph.resolve_drive(), lambda: dataverse.upsert("crf63_labortimes", ["crf63_businesskey"],
                                                                         [{"crf63_businesskey": "k"}])):
        with pytest.raises(RequestFailed) as caught:
            call()
        messages.append(repr(caught.value) + str(caught.value) + str(caught.value.body))
    text = "\n".join(messages) + caplog.text
    secrets = [CLIENT_SECRET, *microsoft.tokens]
    assert len(microsoft.tokens) >= 3  # Graph, its renewal, Dataverse
    assert _leaks(text, secrets) == []
    assert "HTTP 401" in messages[0] and "HTTP 500" in messages[1]


def test_task_logs_and_xcom_never_show_the_secret_or_tokens(microsoft, airflow_db, capfd, caplog):
    """A real DAG run (dag.test) whose task uses both hooks, fails a request, and even logs a token on purpose."""
    from datetime import datetime

    from airflow.sdk import DAG, task

    caplog.set_level(logging.INFO)
    microsoft.graph.put_file("Labor/000126.pay_summ.20260901.120000.zip", b"zip")
    microsoft.dataverse.table("crf63_labortimes", "crf63_labortimeid", ("crf63_businesskey",))

    with DAG("bw_secret_masking_probe", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:

        @task
        def use_hooks() -> dict:
            from plugins.hooks.dataverse import DataverseHook
            from plugins.hooks.graph import GraphFilesHook
            from plugins.hooks.http_retry import RequestFailed

            log = logging.getLogger("bw.probe")
            graph = GraphFilesHook()
            drive = graph.resolve_drive()
            token = graph.auth.token()
            log.info("probe: bearer %s with secret %s", token, graph.credentials.client_secret)
            print(f"probe stdout: Authorization: Bearer {token}")
            dataverse = DataverseHook()
            result = dataverse.upsert("crf63_labortimes", ["crf63_businesskey"], [{"crf63_businesskey": "k1"}])
            microsoft.dataverse.server.add_fault(Fault("$batch", status=500, times=10))
            try:
                DataverseHook().upsert("crf63_labortimes", ["crf63_businesskey"], [{"crf63_businesskey": "k2"}])
            except RequestFailed as exc:
                log.warning("probe: expected failure %s", exc)
            return {"drive": drive, "created": result.created}

        use_hooks()

    microsoft.connect(max_attempts=2)
    run = _run(dag)
    out, err = capfd.readouterr()
    assert str(run.state) in ("success", "DagRunState.SUCCESS")
    from airflow.models.xcom import XComModel
    from airflow.sdk._shared.secrets_masker import redact
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = [str(x.value) for x in session.query(XComModel).filter(XComModel.dag_id == dag.dag_id).all()]
    secrets = [CLIENT_SECRET, *microsoft.tokens]
    assert len(secrets) >= 3 and xcoms
    text = "\n".join([out, err, caplog.text])
    assert "probe: bearer" in text and "probe: expected failure" in text  # the task really ran
    # Everything the hooks themselves logged, raised or returned is clean as it stands ...
    own = "\n".join(line for line in text.splitlines() if "probe: bearer" not in line and "probe stdout" not in line)
    assert _leaks(own + "\n".join(xcoms), secrets) == []
    # ... and what the task printed on purpose is hidden by the masker that Airflow's supervisor applies to task
    # logs (dag.test runs in-process, where the console is not masked): the hooks registered every value.
    assert _leaks(redact(text), secrets) == []
    assert "***" in redact(text)
