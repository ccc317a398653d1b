// Conformance tests land with the runner issue.
