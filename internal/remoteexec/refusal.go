package remoteexec

import (
	"errors"
	"fmt"
	"strings"

	repb "github.com/bazelbuild/remote-apis/build/bazel/remote/execution/v2"
	"google.golang.org/grpc/codes"
)

// refusedError is the executor declining to run an action, said either as
// the Execute call's error or as the status of its ExecuteResponse: no
// worker for the platform, no permission, a quota, a worker that failed.
// None of these is the test's doing, so none is a test result.
type refusedError struct {
	code codes.Code
	err  error // names the call and the server, secrets hidden
}

func (r *refusedError) Error() string { return r.err.Error() }
func (r *refusedError) Unwrap() error { return r.err }

// infraError says why an action could not run remotely and what the user
// can change about it. The run stops on it (exit 3): falling back to local
// execution would hide a wrong platform or expired credentials behind a
// slower, differently configured CI run.
func infraError(err error, platform *repb.Platform) error {
	var r *refusedError
	if !errors.As(err, &r) {
		return fmt.Errorf("remote execution failed: %w (run without --remote-executor to run the tests locally)", err)
	}
	msg := strings.ToLower(r.Error())
	var advice string
	switch {
	case (r.code == codes.FailedPrecondition || r.code == codes.Unavailable || r.code == codes.InvalidArgument) &&
		(strings.Contains(msg, "platform") || strings.Contains(msg, "worker")):
		advice = fmt.Sprintf("no worker of the executor accepts the platform %s: set remote_exec_properties in WORKSPACE (or --remote-exec-property K=V) to exactly the properties its workers advertise",
			describePlatform(platform))
	case r.code == codes.PermissionDenied || r.code == codes.Unauthenticated:
		advice = "the executor refused suite's credentials: give them in SUITE_REMOTE_HEADERS (\"Authorization=Bearer …\") or in the URL (grpcs://USER:PASSWORD@HOST)"
	case r.code == codes.ResourceExhausted:
		advice = "the executor is over its quota or its queue is full: run fewer tests at once (-n), later, or without --remote-executor"
	default:
		advice = "run without --remote-executor to run the tests locally"
	}
	return fmt.Errorf("the remote executor refused a test: %w; %s", err, advice)
}

func describePlatform(p *repb.Platform) string {
	var props []string
	for _, prop := range p.GetProperties() {
		props = append(props, fmt.Sprintf("%s=%s", prop.Name, prop.Value))
	}
	if len(props) == 0 {
		return "{} (no property configured)"
	}
	return "{" + strings.Join(props, ", ") + "}"
}
