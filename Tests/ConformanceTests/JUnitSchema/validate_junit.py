"""Validates rnnconf JUnit XML against junit-strict.xsd (needs lxml).

    python validate_junit.py report.xml [...]

A one-off check, not part of `swift test` (the Swift test ReportTests.junitFollowsTheSchemaRules
checks the same rules without Python).
"""
import os
import sys

try:
    from lxml import etree
except ImportError:
    sys.exit("validate_junit.py needs lxml: `pip install lxml` (or Debian/Ubuntu's python3-lxml); the CI kit in ci/ installs it")

schema = etree.XMLSchema(etree.parse(os.path.join(os.path.dirname(os.path.abspath(__file__)), "junit-strict.xsd")))
status = 0
for path in sys.argv[1:]:
    doc = etree.parse(path)
    if schema.validate(doc):
        suites = doc.getroot().findall("testsuite")
        print(f"{path}: valid ({len(suites)} testsuites, {sum(len(s.findall('testcase')) for s in suites)} testcases)")
    else:
        status = 1
        for e in schema.error_log:
            print(f"{path}:{e.line}: {e.message}")
sys.exit(status)
