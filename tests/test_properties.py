"""config.properties read as TorchServe (java.util.Properties) reads it, for what serve checks first."""

from __future__ import annotations

import zipfile

import pytest

from conftest import REPO
from trainer.errors import SessrecError
from trainer.properties import read_properties
from trainer.server import addresses, check_archives


def test_the_syntax_java_accepts(tmp_path):
    path = tmp_path / "c.properties"
    path.write_text("# comment\n! also a comment\n\n  model_store = /srv/my models  \n"
                    "inference_address:http://127.0.0.1:9080\nmanagement_address http://127.0.0.1:9081\n"
                    "allowed_urls=^file://.*\\\\.mar$\nlong=one \\\n    two\nname\\ with\\ spaces=x\\u00e9\n"
                    "empty=\n")
    props = read_properties(path)
    assert props["model_store"] == "/srv/my models  "  # Java keeps trailing spaces; leading ones go
    assert props["inference_address"] == "http://127.0.0.1:9080"
    assert props["management_address"] == "http://127.0.0.1:9081"
    assert props["allowed_urls"] == "^file://.*\\.mar$"
    assert props["long"] == "one two" and props["name with spaces"] == "x\u00e9" and props["empty"] == ""


def test_the_repo_config_reads_as_before():
    props = read_properties(REPO / "config.properties")
    assert props["model_store"] == "model_store" and props["disable_token_authorization"] == "true"
    assert addresses(REPO / "config.properties") == {"inference_address": "http://127.0.0.1:8080",
                                                      "management_address": "http://127.0.0.1:8081"}


def test_a_model_store_with_spaces_or_spaced_separators_is_the_one_checked(tmp_path):
    # Before: `model_store=/srv/my models` did not match `^model_store=(\S+)$`, so serve checked
    # ./model_store instead, and `model_store = x` was not seen either.
    store = tmp_path / "my models"
    store.mkdir()
    with zipfile.ZipFile(store / "there.mar", "w") as mar:
        mar.writestr("MAR-INF/MANIFEST.json", "{}")
    for line in (f"model_store={store}", f"model_store = {store}", "model_store=my models"):
        config = tmp_path / "config.properties"
        config.write_text(line + "\n")
        check_archives(config, ["there.mar"], tmp_path)
        with pytest.raises(SessrecError, match=f"{store / 'absent.mar'} not found"):
            check_archives(config, ["absent.mar"], tmp_path)
    config.write_text(f"model_store={store}  \n")  # TorchServe keeps the spaces: a store that is not there
    with pytest.raises(SessrecError, match="ends in whitespace, which is part of the path"):
        check_archives(config, ["there.mar"], tmp_path)


def test_addresses_with_spaced_separators(tmp_path):
    config = tmp_path / "c.properties"
    config.write_text("inference_address = http://127.0.0.1:9080\nmanagement_address: http://127.0.0.1:9081\n")
    assert addresses(config) == {"inference_address": "http://127.0.0.1:9080", "management_address": "http://127.0.0.1:9081"}
    config.write_text("inference_address=http://127.0.0.1:9080\n")
    with pytest.raises(SessrecError, match="needs inference_address and management_address"):
        addresses(config)


@pytest.mark.parametrize("key, known", [
    ("inference_adress", "inference_address"),  # TorchServe would bind its default address instead
    ("disable_token_authorisation", "disable_token_authorization"),  # tokens would stay on
    ("enable_token_authorization", "disable_token_authorization"),
    ("allowed_url", "allowed_urls"),  # any URL's archive would be allowed
    ("modelstore", "model_store"),
])
def test_a_near_miss_of_a_torchserve_key_is_refused_before_anything_starts(tmp_path, key, known):
    from trainer.properties import misspelt_keys
    from trainer.server import serve

    text = (REPO / "config.properties").read_text() + f"{key}=true\n"
    (tmp_path / "config.properties").write_text(text)
    assert misspelt_keys(read_properties(tmp_path / "config.properties")) == {key: known}
    with pytest.raises(SessrecError, match=rf"'{key}' is not a setting TorchServe reads, which would ignore it and use "
                                           rf"its default: did you mean '{known}'\?; nothing was started"):
        serve(tmp_path / "config.properties", ["sessrec.mar"], tmp_path)
    assert not (tmp_path / "logs").exists()  # refused before the start marks its logs


def test_the_repos_config_and_keys_far_from_torchserves_pass():
    from trainer.properties import misspelt_keys

    assert misspelt_keys(read_properties(REPO / "config.properties")) == {}
    assert misspelt_keys({"my_plugin_setting": "1", "netty_threads": "2"}) == {}


def test_serve_away_from_the_repo_root_says_where_it_looked(tmp_path):
    # It said "error: config.properties: No such file or directory", with no word of the directory.
    from conftest import run_cli

    res = run_cli("serve", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: config.properties: no such file in {tmp_path.resolve()}; start from the "
                                 "repo root (as `make serve` does) or pass --config PATH"), res.stderr
    res = run_cli("serve", "--config", str(tmp_path / "none.properties"), cwd=tmp_path)
    assert res.returncode == 2 and res.stderr.startswith(f"error: {tmp_path / 'none.properties'}: no such file; ")
