"""One registry of engines (backends/registry.py): the config file, the command line and the app's
start-up all read it, so a new engine is one package and one registry entry, with no edit in tui/."""

from __future__ import annotations

import pytest

from mlops_tui.backends import registry
from mlops_tui.backends.base import Change
from mlops_tui.backends.engine_spec import EngineOption, EngineSpec, OptionKind
from mlops_tui.backends.failed_source import FailedSource
from mlops_tui.backends.model import HealthState
from mlops_tui.tui.cli import parser, settings_from
from mlops_tui.tui.config import ConfigError, Settings, build_settings
from mlops_tui.tui.sources import build_backends
from tests.fakes import InMemoryBackend

BUILT: list[dict] = []


def _build_nomad(options, context):
    BUILT.append(dict(options))
    return [InMemoryBackend(f"nomad-{address.split('//')[-1]}") for address in options["addresses"]]


NOMAD = EngineSpec(
    name="nomad",
    title="Nomad",
    platform=None,
    options=(
        EngineOption("addresses", OptionKind.STRINGS, "Nomad server (repeatable)", flags=("--nomad",),
                     metavar="URL", default=[]),
        EngineOption("region", OptionKind.STRING, "Nomad region", default="global"),
        EngineOption("token_url", OptionKind.URL, "where ACL tokens come from", env="NOMAD_TOKEN_URL", default=""),
    ),
    build=_build_nomad,
)


@pytest.fixture
def with_nomad(monkeypatch):
    known = registry.engines()
    monkeypatch.setattr(registry, "engines", lambda: (*known, NOMAD))
    BUILT.clear()


def test_an_engine_added_to_the_registry_is_configured_from_the_file_the_command_line_and_the_environment(
        with_nomad, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[nomad]\nregion = "eu-west"\n')
    monkeypatch.setenv("NOMAD_TOKEN_URL", "https://vault.example/nomad")
    args = parser().parse_args(["--config", str(config), "--nomad", "http://127.0.0.1:4646"])
    settings = settings_from(args)
    assert settings.engines["nomad"] == {"addresses": ["http://127.0.0.1:4646"], "region": "eu-west",
                                         "token_url": "https://vault.example/nomad"}
    assert settings.origin["nomad.region"] == "config" and settings.origin["nomad.addresses"] == "cli"
    assert settings.origin["nomad.token_url"] == "env"
    assert "--nomad URL" in parser().format_help() and "Nomad server (repeatable)" in parser().format_help()


def test_an_added_engines_settings_are_checked_like_every_other(with_nomad, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[nomad]\nregion = 3\n')
    with pytest.raises(ConfigError, match=r"key 'nomad.region': expected a string, got 3"):
        build_settings({}, str(config))
    config.write_text('[nomad]\nzone = "a"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'nomad.zone' \(known: addresses, region, token_url\)"):
        build_settings({}, str(config))


def test_an_added_engine_is_started_with_the_others(with_nomad):
    settings = Settings().with_engine("nomad", addresses=["http://127.0.0.1:4646"])
    backends = build_backends(settings, lambda: None)
    assert [b.name for b in backends if b.name.startswith("nomad")] == ["nomad-127.0.0.1:4646"]
    assert BUILT == [{"addresses": ["http://127.0.0.1:4646"], "region": "global", "token_url": ""}]


def test_an_engine_that_cannot_be_set_up_is_shown_as_an_error_and_the_others_still_start(monkeypatch):
    def broken(options, context):
        raise RuntimeError("kubeconfig /nowhere does not exist")

    kubernetes = registry.engine("kubernetes")
    others = [spec for spec in registry.engines() if spec.name != "kubernetes"]
    monkeypatch.setattr(registry, "engines", lambda: (EngineSpec(
        kubernetes.name, kubernetes.title, kubernetes.platform, kubernetes.options, broken), *others, NOMAD))
    settings = Settings().with_engine("nomad", addresses=["http://127.0.0.1:4646"])
    backends = build_backends(settings, lambda: None)
    failed = [b for b in backends if isinstance(b, FailedSource)]
    assert [(b.name, b.error) for b in failed] == [("kubernetes", "kubeconfig /nowhere does not exist")]
    assert any(b.name == "nomad-127.0.0.1:4646" for b in backends)
    changes: list[Change] = []
    failed[0].start(changes.append)
    assert changes[0].health.state is HealthState.ERROR and changes[0].health.error.startswith("kubeconfig")


def test_command_line_urls_are_checked_like_the_config_files():
    with pytest.raises(ConfigError, match=r"^--prometheus 127.0.0.1:9090: expected an http:// or https:// URL$"):
        settings_from(parser().parse_args(["--prometheus", "127.0.0.1:9090"]))


def test_settings_name_no_option_an_engine_does_not_have():
    with pytest.raises(TypeError, match="swarm has no option url"):
        Settings().with_engine("swarm", url="http://127.0.0.1:2375")
