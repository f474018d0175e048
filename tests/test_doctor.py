"""``diptych doctor``'s findings and report, without depending on what this machine has."""

from diptych.command import doctor


def test_a_missing_package_fails_with_its_fix():
    finding = doctor._package("surely-not-an-installed-package")
    assert (finding.level, finding.detail) == ("fail", "not installed")
    assert "pip install" in finding.fix


def test_an_installed_package_reports_its_version():
    finding = doctor._package("numpy")
    assert finding.level == "ok" and finding.detail[0].isdigit()


def test_no_framework_at_all_fails_both(monkeypatch):
    missing = doctor.Finding(
        doctor.Level.WARN, "PyTorch", "not installed", "pip install -e '.[pytorch]'"
    )
    monkeypatch.setattr(doctor, "_framework", lambda framework: missing)
    assert [f.level for f in doctor._frameworks()] == ["fail", "fail"]


def test_one_framework_is_enough(monkeypatch):
    seen = {
        "PyTorch": doctor.Finding(doctor.Level.OK, "PyTorch", "2"),
        "TensorFlow": doctor.Finding(doctor.Level.WARN, "TensorFlow", "no"),
    }
    monkeypatch.setattr(doctor, "_framework", lambda framework: seen[framework.name])
    assert [f.level for f in doctor._frameworks()] == ["ok", "warn"]


def test_the_report_lists_fixes_last_and_counts_the_failures():
    findings = [
        doctor.Finding(doctor.Level.OK, "numpy", "2.0"),
        doctor.Finding(
            doctor.Level.WARN, "TensorFlow", "not installed", "pip install -e '.[tensorflow]'"
        ),
        doctor.Finding(doctor.Level.FAIL, "tqdm", "not installed", "pip install -e ."),
    ]
    lines = doctor.render(findings).splitlines()
    assert lines[0].startswith("OK") and "numpy" in lines[0]
    assert lines.index("To fix:") > 2
    assert "  - tqdm: pip install -e ." in lines
    assert lines[-1] == "1 problem(s) stop the curriculum from running here."
    assert doctor.render(findings[:2]).endswith("This machine can run the curriculum.")


def test_lesson_07s_tools_are_reported_and_a_missing_one_only_warns(monkeypatch):
    findings = doctor._porting_tools()
    assert [f.topic for f in findings] == [
        "safetensors",
        "onnx",
        "onnxscript",
        "onnxruntime",
        "tf2onnx",
    ]

    def absent(name):
        raise doctor.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(doctor.metadata, "version", absent)
    missing = doctor._porting_tools()
    assert {f.level for f in missing} == {doctor.Level.WARN}
    assert missing[0].detail == "not installed: the neutral weights file (lesson 08 cannot run)"
    assert missing[1].detail == "not installed: ONNX models (lesson 08 skips it)"
    assert all(f.fix == "pip install -e '.[porting]'" for f in missing)
