"""`EngineClient`, the one place that talks to dockerd: dockerd's own words on a refusal, an explicit
timeout on every call, and a fresh connection after a broken one (dockerd restarted, an ssh tunnel died)."""

from __future__ import annotations

import orjson
import pytest
import requests

from mlops_tui.backends.swarm.client import EngineClient, EngineError, SwarmEndpoint

ENDPOINT = SwarmEndpoint(url="unix:///fake.sock")


class Response:
    def __init__(self, status: int, body: object) -> None:
        self.status_code = status
        self.content = orjson.dumps(body) if body is not None else b""
        self.text = self.content.decode()

    def json(self):
        return orjson.loads(self.content)


class FakeApi:
    """A `docker.APIClient` stand-in: records calls, answers from a script, can be broken."""

    def __init__(self, answers: list) -> None:
        self.answers = answers
        self.calls: list[tuple[str, str, dict]] = []
        self.closed = False

    def _url(self, path: str) -> str:
        return "http+docker://localhost/v1.41" + path.format()

    def _get(self, url, **kwargs):
        return self._answer("GET", url, kwargs)

    def _post(self, url, **kwargs):
        return self._answer("POST", url, kwargs)

    def _answer(self, method, url, kwargs):
        self.calls.append((method, url, kwargs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def close(self) -> None:
        self.closed = True


def client_with(*apis: FakeApi) -> tuple[EngineClient, list[FakeApi]]:
    opened: list[FakeApi] = []
    queue = list(apis)

    def factory(endpoint, timeout):
        opened.append(queue.pop(0))
        return opened[-1]

    return EngineClient(ENDPOINT, timeout=7.0, api_factory=factory), opened


def test_a_refused_update_carries_dockerds_own_message_on_one_line():
    api = FakeApi([Response(500, {"message": "rpc error: code = Unknown\n  desc = update out of sequence"})])
    client, _ = client_with(api)
    with pytest.raises(EngineError) as err:
        client.request("POST", "/services/abc/update", {"version": "12"}, {"Name": "svc"})
    assert err.value.status == 500 and err.value.message == "rpc error: code = Unknown desc = update out of sequence"
    method, url, kwargs = api.calls[0]
    assert (method, url) == ("POST", "http+docker://localhost/v1.41/services/abc/update")
    assert kwargs["params"] == {"version": "12"} and orjson.loads(kwargs["data"]) == {"Name": "svc"}


def test_every_call_has_an_explicit_timeout_and_typed_reads_send_the_engine_filters():
    api = FakeApi([Response(200, []), Response(200, []), Response(200, [])])
    client, _ = client_with(api)
    client.services(["s1"])
    client.tasks(["s1"])
    client.task_history("s1")
    assert all(kwargs["timeout"] == 7.0 for _, _, kwargs in api.calls)
    services, tasks, history = (kwargs["params"] for _, _, kwargs in api.calls)
    assert services == {"status": "true", "filters": '{"id":["s1"]}'}
    assert orjson.loads(tasks["filters"]) == {"desired-state": ["running", "ready"], "service": ["s1"]}
    assert orjson.loads(history["filters"]) == {"service": ["s1"]}  # shut-down tasks too, for the detail screen


def test_after_a_broken_connection_the_next_call_reconnects():
    broken = FakeApi([requests.exceptions.ConnectionError("('Connection aborted.', RemoteDisconnected())")])
    fresh = FakeApi([Response(200, [{"ID": "n1"}])])
    client, opened = client_with(broken, fresh)
    with pytest.raises(EngineError) as err:
        client.nodes()
    assert err.value.status == 0 and err.value.message.startswith("cannot reach unix:///fake.sock")
    assert broken.closed
    assert client.nodes() == [{"ID": "n1"}]
    assert opened == [broken, fresh]
