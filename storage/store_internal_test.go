// store_internal_test.go checks the store's background loops: the mapped pages are still
// trimmed while a value-log collection runs.
package storage

import (
	"sync"
	"testing"
	"time"
)

func TestTrimsGoOnDuringValueLogCollection(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	collecting, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	checks := make(chan struct{}, 1)
	housekeeping{
		gcEvery:    time.Millisecond,
		checkEvery: time.Millisecond,
		collect: func() {
			once.Do(func() { close(collecting) })
			<-release // a collection that takes as long as the test
		},
		check: func(time.Time) {
			select {
			case checks <- struct{}{}:
			default:
			}
		},
	}.run(stop, &wg)
	defer func() { close(stop); wg.Wait() }()
	defer close(release)

	<-collecting
	for i := 0; i < 3; i++ {
		select {
		case <-checks:
		case <-time.After(30 * time.Second):
			t.Fatal("no trim check while the value log was being collected")
		}
	}
}
