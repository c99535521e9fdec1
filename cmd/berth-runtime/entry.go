package main

// usernsResult is what the entry point's setns returned: 0, or a negated errno. It
// stays usernsNotTried when the entry point did not try (another command line, or a
// binary linked without -E main.nsenterEntry).
var usernsResult int64 = usernsNotTried

const usernsNotTried = 1
