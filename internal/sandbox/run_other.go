//go:build !linux

package sandbox

import (
	"context"
	"errors"
)

func run(ctx context.Context, s Spec, opt options) (Result, error) {
	return Result{}, errors.New("sandbox: test actions run only on Linux")
}
