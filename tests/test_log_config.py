"""The repo's TorchServe log config, checked without a server (tests/test_server.py checks its effect)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from torchserve_proc import REPO


def test_log4j2_xml_is_well_formed_and_named_by_config_properties():
    # A malformed file (say, "--" inside a comment) leaves log4j with no configuration: no log files at all.
    root = ET.parse(REPO / "log4j2.xml").getroot()
    assert root.tag == "Configuration"
    vmargs = re.search(r"^vmargs=(.*)$", (REPO / "config.properties").read_text(), re.M)
    assert vmargs and "-Dlog4j.configurationFile=log4j2.xml" in vmargs.group(1).split()


def test_every_logger_writes_to_a_declared_appender_and_per_request_lines_are_written_once():
    root = ET.parse(REPO / "log4j2.xml").getroot()
    appenders = {a.get("name") for a in root.find("Appenders")}
    loggers = {lg.get("name", "Root"): lg for lg in root.find("Loggers")}
    refs = {r.get("ref") for lg in loggers.values() for r in lg.iter("AppenderRef")}
    assert refs <= appenders, f"undeclared appenders: {refs - appenders}"
    for name, own in (("ACCESS_LOG", "access_log"), ("TS_METRICS", "ts_metrics"), ("MODEL_METRICS", "model_metrics")):
        assert loggers[name].get("additivity") == "false", f"{name} lines would be copied into ts_log and stdout"
        assert [r.get("ref") for r in loggers[name].iter("AppenderRef")] == [own]
    # TorchServe's classes reach ts_log.log through Root only, so each line is written once
    assert loggers["org.pytorch.serve"].find("AppenderRef") is None
    assert {r.get("ref") for r in loggers["Root"].iter("AppenderRef")} == {"STDOUT", "ts_log"}
