// Package par runs independent pieces of work on every CPU.
package par

import (
	"runtime"
	"sync"
)

// Each calls f(i) for every i in [0, n), on at most GOMAXPROCS goroutines,
// and returns when all calls have. f must be safe to call concurrently;
// results go into slots indexed by i, so no locking is needed to gather them.
func Each(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}
