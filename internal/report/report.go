// Package report turns the scheduler's events into what people and tools
// read: the terminal's live line and summary, JSON Lines events, one JUnit
// XML file for the run, and a Chrome trace of the worker slots. Each output
// is a Handler; none of them changes a result.
package report

import (
	"github.com/suite-run/suite/internal/sched"
)

// Handler consumes events in order, from one goroutine.
type Handler interface {
	Handle(sched.Event)
}

// Closer is a Handler that writes a file when the run is over.
type Closer interface {
	Handler
	Close() error
}

// Fan sends each event to every handler, in order.
func Fan(hs ...Handler) func(sched.Event) {
	return func(e sched.Event) {
		for _, h := range hs {
			h.Handle(e)
		}
	}
}
