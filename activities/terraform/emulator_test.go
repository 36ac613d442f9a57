package terraform

import (
	"sync"

	"github.com/sivchari/kumo"
)

var (
	emulatorOnce sync.Once
	emulator     *kumo.Server
)

// EmulatorURL is the one in-process AWS emulator every test of this package's binary shares.
// kumo keeps its stores process-wide, so several servers would share state anyway; creating a
// second one while the first still runs its background notifications is a data race inside
// kumo. Each test uses its own buckets. The server lives until the test binary exits.
func EmulatorURL() string {
	emulatorOnce.Do(func() { emulator = kumo.NewServer() })
	return emulator.URL
}
