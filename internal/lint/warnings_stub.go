//go:build !buildtools_warn

package lint

import "errors"

// The warnings come from github.com/bazelbuild/buildtools/warn, which imports buildtools/edit,
// which needs two modules the main go.mod does not list yet. Until it does, this stub stands
// in for warnings.go so that the package (and `suite fmt`) builds. To switch the warnings on:
//
//  1. add to go.mod's require block (found by `go build -mod=mod ./internal/lint`):
//     github.com/golang/protobuf v1.5.4 // indirect
//     github.com/google/safeopen v0.0.0-20260327150837-43626d6f4685 // indirect
//     and let `go build ./internal/lint` add their go.sum lines;
//  2. delete this file and the //go:build lines of warnings.go and warnings_test.go.
//
// Meanwhile `go test -tags buildtools_warn -modfile=...` with such a go.mod runs them.

// ErrWarningsUnavailable is returned by Warnings in builds without buildtools' warn package.
var ErrWarningsUnavailable = errors.New("lint: buildtools warnings are not built in (see internal/lint/warnings_stub.go)")

// Warnings parses src like Format, so a parse error is reported as "path:line:col: message";
// otherwise it returns ErrWarningsUnavailable (see above).
func Warnings(path string, src []byte) ([]Finding, error) {
	if _, err := parse(path, src); err != nil {
		return nil, err
	}
	return nil, ErrWarningsUnavailable
}
