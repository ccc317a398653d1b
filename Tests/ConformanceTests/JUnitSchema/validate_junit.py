"""Validates rnnconf JUnit XML (needs lxml).

    python validate_junit.py [--strict | --dashboard] report.xml [...]

`--dashboard` (the default, what `rnnconf run --junit` writes): junit-dashboard.xsd, the strict
format plus <skipped> for expected failures, a `skipped` count and a `file` attribute.
`--strict` (`rnnconf run --junit-format strict`): junit-strict.xsd, Ant's strict format.
A one-off check, not part of `swift test` (the Swift test ReportTests.junitFollowsTheSchemaRules
checks the strict rules without Python).
"""
import os
import sys

try:
    from lxml import etree
except ImportError:
    sys.exit("validate_junit.py needs lxml: `pip install lxml` (or Debian/Ubuntu's python3-lxml); the CI kit in ci/ installs it")

args = sys.argv[1:]
flavour = "dashboard"
if args and args[0] in ("--strict", "--dashboard"):
    flavour = args.pop(0)[2:]
if not args:
    sys.exit(__doc__)
here = os.path.dirname(os.path.abspath(__file__))
schema = etree.XMLSchema(etree.parse(os.path.join(here, f"junit-{flavour}.xsd")))
status = 0
for path in args:
    doc = etree.parse(path)
    if schema.validate(doc):
        suites = doc.getroot().findall("testsuite")
        print(f"{path}: valid {flavour} JUnit ({len(suites)} testsuites, "
              f"{sum(len(s.findall('testcase')) for s in suites)} testcases)")
    else:
        status = 1
        for e in schema.error_log:
            print(f"{path}:{e.line}: {e.message}")
sys.exit(status)
