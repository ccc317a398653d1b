// Case loading, comparison and reports land with the runner issue.
