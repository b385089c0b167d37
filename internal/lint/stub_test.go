//go:build !buildtools_warn

package lint

import (
	"errors"
	"testing"
)

func TestWarningsUnavailable(t *testing.T) {
	if _, err := Warnings("SUITES.star", []byte("test(name = \"a\")\n")); !errors.Is(err, ErrWarningsUnavailable) {
		t.Errorf("Warnings: got error %v, want ErrWarningsUnavailable", err)
	}
}
