package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDeferIsNotRetriedInPlace(t *testing.T) {
	t.Parallel()
	boom := errors.New("rate limited")
	calls := 0
	err := Default.Do(context.Background(), func() error {
		calls++
		return fmt.Errorf("reading: %w", Defer(boom, 2*time.Minute))
	})
	require.Equal(t, 1, calls, "the wait is the activity's, not the loop's")
	require.ErrorIs(t, err, boom)
	wait, ok := DeferredFor(err)
	require.True(t, ok)
	require.Equal(t, 2*time.Minute, wait)
	_, ok = DeferredFor(After(boom, time.Second))
	require.False(t, ok)
	require.False(t, Retryable(err))
}
