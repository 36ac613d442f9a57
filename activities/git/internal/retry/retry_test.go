package retry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDo(t *testing.T) {
	t.Parallel()
	fast := Policy{Attempts: 3, Base: time.Millisecond, Max: 2 * time.Millisecond}
	boom := errors.New("boom")
	tests := []struct {
		name      string
		errs      []error // returned by successive attempts; nil after they run out
		wantCalls int
		check     func(t *testing.T, err error)
	}{
		{
			name: "success after retryable failures", errs: []error{Later(boom), After(boom, time.Millisecond)}, wantCalls: 3,
			check: func(t *testing.T, err error) { require.NoError(t, err) },
		},
		{
			name: "an unmarked error stops at once", errs: []error{boom}, wantCalls: 1,
			check: func(t *testing.T, err error) { require.Same(t, boom, err) },
		},
		{
			name: "attempts run out", errs: []error{Later(boom), Later(boom), Later(boom), nil}, wantCalls: 3,
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, boom)
				require.ErrorContains(t, err, "giving up after 3 attempts")
				require.False(t, Retryable(err), "the give-up is final")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := fast.Do(context.Background(), func() error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			require.Equal(t, tc.wantCalls, calls)
			tc.check(t, err)
		})
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	boom := errors.New("boom")
	err := Default.Do(ctx, func() error {
		cancel()
		return After(boom, time.Hour)
	})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, err, boom)
}
