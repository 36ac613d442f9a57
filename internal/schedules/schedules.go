// Package schedules keeps a family of Temporal Schedules (one per service, one per env...) at
// what idp.yaml says, the way idp's worker does at every start: each wanted schedule is
// created, or its spec, action and overlap/catch-up policy are set to the wanted ones (a pause
// people set is kept), and the family's schedules nobody wants any more are deleted.
package schedules

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// Ensure creates want, or, when a schedule with its ID exists, updates that one's spec,
// action and overlap and catch-up policies to want's, keeping whether it is paused. created
// says which it did.
func Ensure(ctx context.Context, sc client.ScheduleClient, want client.ScheduleOptions) (created bool, err error) {
	if _, err := sc.Create(ctx, want); err == nil {
		return true, nil
	} else if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return false, fmt.Errorf("creating schedule %s: %w", want.ID, err)
	}
	err = sc.GetHandle(ctx, want.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec = &want.Spec
			s.Action = want.Action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap, s.Policy.CatchupWindow = want.Overlap, want.CatchupWindow
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return false, fmt.Errorf("updating schedule %s: %w", want.ID, err)
	}
	return false, nil
}

// Prune deletes every schedule whose ID starts with prefix and whose key (the ID after the
// prefix) unwanted reports a reason for, and says what it deleted and why. Schedules are
// listed through visibility, so one created moments ago may show up only at a later start.
func Prune(ctx context.Context, sc client.ScheduleClient, prefix string, unwanted func(key string) (why string, ok bool)) ([]string, error) {
	it, err := sc.List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		return nil, fmt.Errorf("listing schedules: %w", err)
	}
	var did []string
	var errs []error
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return did, fmt.Errorf("listing schedules: %w", err)
		}
		key, ok := strings.CutPrefix(e.ID, prefix)
		if !ok {
			continue
		}
		why, ok := unwanted(key)
		if !ok {
			continue
		}
		if err := sc.GetHandle(ctx, e.ID).Delete(ctx); err != nil && !errors.As(err, new(*serviceerror.NotFound)) {
			errs = append(errs, fmt.Errorf("deleting schedule %s: %w", e.ID, err))
			continue
		}
		did = append(did, fmt.Sprintf("deleted %s (%s)", e.ID, why))
	}
	return did, errors.Join(errs...)
}
