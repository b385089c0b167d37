// Package suite is the root of the suite module: a Bazel-style declarative
// test orchestrator. The command lives in cmd/suite; see README.md.
package suite
