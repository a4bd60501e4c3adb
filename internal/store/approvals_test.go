package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Approval conformance: CRUD and queries, serialised updates across
// Stores, change feeds across Stores, and step records for approval
// context. Called from runConformance.

func approvalRow(id, status string, created time.Duration) ApprovalRow {
	return ApprovalRow{
		ID: id, Kind: ApprovalStatement, Status: status, Requester: "iss sub-a", RedeemKey: "key-" + id, Connection: "shop",
		Created: t0.Add(created), Expires: t0.Add(created + 10*time.Minute), Updated: t0.Add(created),
		Body: []byte(`{"n":0}`),
	}
}

func testApprovals(t *testing.T, s Store) {
	ctx := context.Background()
	a := approvalRow("ap_a", "pending", 1*time.Second)
	a.Created = a.Created.In(time.FixedZone("CET", 3600)) // read back in UTC
	b := approvalRow("ap_b", "approved", 2*time.Second)
	c := approvalRow("ap_c", "pending", 3*time.Second)
	c.Kind, c.Requester, c.RedeemKey, c.Expires = ApprovalGrant, "iss sub-b", "", t0.Add(time.Minute)
	for _, r := range []ApprovalRow{a, b, c} {
		if err := s.CreateApproval(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateApproval(ctx, a); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate id: %v, want ErrConflict", err)
	}
	if err := s.CreateApproval(ctx, ApprovalRow{ID: "x", Kind: "other", Status: "pending"}); err == nil {
		t.Fatal("unknown kind accepted")
	}
	got, err := s.Approval(ctx, "ap_a")
	a.Created = a.Created.UTC()
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("Approval(ap_a) =\n%+v, %v\nwant\n%+v", got, err, a)
	}
	if _, err := s.Approval(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Approval(nope): %v, want ErrNotFound", err)
	}
	for _, tc := range []struct {
		name string
		q    ApprovalQuery
		want []string
	}{
		{"all newest first", ApprovalQuery{}, []string{"ap_c", "ap_b", "ap_a"}},
		{"statuses", ApprovalQuery{Statuses: []string{"pending"}}, []string{"ap_c", "ap_a"}},
		{"two statuses", ApprovalQuery{Statuses: []string{"approved", "denied"}}, []string{"ap_b"}},
		{"kind", ApprovalQuery{Kind: ApprovalGrant}, []string{"ap_c"}},
		{"requester", ApprovalQuery{Requester: "iss sub-a"}, []string{"ap_b", "ap_a"}},
		{"redeem key", ApprovalQuery{RedeemKey: "key-ap_b"}, []string{"ap_b"}},
		{"expires before", ApprovalQuery{ExpiresBefore: t0.Add(10*time.Minute + time.Second)}, []string{"ap_c", "ap_a"}},
		{"limit", ApprovalQuery{Limit: 1}, []string{"ap_c"}},
		{"none", ApprovalQuery{Requester: "nobody"}, nil},
	} {
		rows, err := s.ListApprovals(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		if !reflect.DeepEqual(ids, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, ids, tc.want)
		}
	}

	// Update: fn's changes are written, immutable fields are not.
	upd, err := s.UpdateApproval(ctx, "ap_a", func(r *ApprovalRow) error {
		r.Status, r.Body, r.Updated = "approved", []byte(`{"n":1}`), t0.Add(time.Hour)
		r.ID, r.Requester, r.Kind = "hijack", "someone", ApprovalGrant
		return nil
	})
	if err != nil || upd.ID != "ap_a" || upd.Status != "approved" || upd.Requester != "iss sub-a" || upd.Kind != ApprovalStatement {
		t.Fatalf("UpdateApproval = %+v, %v", upd, err)
	}
	if got, _ := s.Approval(ctx, "ap_a"); !reflect.DeepEqual(got, upd) {
		t.Fatalf("after update read %+v, want %+v", got, upd)
	}
	// An error from fn writes nothing and comes back as it is.
	errStop := errors.New("stop")
	if _, err := s.UpdateApproval(ctx, "ap_a", func(r *ApprovalRow) error { r.Status = "used"; return errStop }); err != errStop {
		t.Fatalf("fn error: %v", err)
	}
	if got, _ := s.Approval(ctx, "ap_a"); got.Status != "approved" {
		t.Fatalf("status after failed update: %s", got.Status)
	}
	if _, err := s.UpdateApproval(ctx, "nope", func(*ApprovalRow) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a missing id: %v", err)
	}
}

// testApprovalUpdateRace increments a counter in Body from many goroutines
// on two Stores: serialised updates lose nothing.
func testApprovalUpdateRace(t *testing.T, url string) {
	ctx := context.Background()
	stores := []Store{open(t, url), open(t, url)}
	if err := stores[0].CreateApproval(ctx, approvalRow("ap_race", "pending", 0)); err != nil {
		t.Fatal(err)
	}
	const perStore, rounds = 4, 10
	var wg sync.WaitGroup
	for _, s := range stores {
		for range perStore {
			wg.Go(func() {
				for range rounds {
					_, err := s.UpdateApproval(ctx, "ap_race", func(r *ApprovalRow) error {
						n, err := strconv.Atoi(string(r.Body[len(`{"n":`) : len(r.Body)-1]))
						if err != nil {
							return err
						}
						r.Body = fmt.Appendf(nil, `{"n":%d}`, n+1)
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	got, err := stores[1].Approval(ctx, "ap_race")
	if want := fmt.Sprintf(`{"n":%d}`, len(stores)*perStore*rounds); err != nil || string(got.Body) != want {
		t.Fatalf("after concurrent updates body = %s, %v; want %s", got.Body, err, want)
	}
}

// testApprovalWatch: a change made through one Store reaches watchers of
// another (and of the same) Store; ending ctx closes the channel.
func testApprovalWatch(t *testing.T, url string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := open(t, url), open(t, url)
	wa, err := a.WatchApprovals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := b.WatchApprovals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateApproval(ctx, approvalRow("ap_w", "pending", 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateApproval(ctx, "ap_w", func(r *ApprovalRow) error { r.Status = "denied"; return nil }); err != nil {
		t.Fatal(err)
	}
	for name, w := range map[string]<-chan ApprovalChange{"same store": wa, "other store": wb} {
		waitChange(t, name, w, ApprovalChange{ID: "ap_w", Status: "denied"})
	}
	cancel()
	for range wa {
	}
	select {
	case _, ok := <-wb:
		for ok {
			_, ok = <-wb
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch channel not closed after ctx ended")
	}
	// Closing the Store closes its watchers' channels.
	w, err := b.WatchApprovals(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	select {
	case _, ok := <-w:
		for ok {
			_, ok = <-w
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch channel not closed by Close")
	}
}

// waitChange reads w until want arrives (other changes may come first).
func waitChange(t *testing.T, name string, w <-chan ApprovalChange, want ApprovalChange) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c, ok := <-w:
			if !ok {
				t.Fatalf("%s: channel closed before %+v", name, want)
			}
			if c == want {
				return
			}
		case <-deadline:
			t.Fatalf("%s: no %+v", name, want)
		}
	}
}

func testStepRecords(t *testing.T, s Store) {
	ctx := context.Background()
	var batch []Record
	seq := int64(0)
	add := func(kind, session string, step int, trace string) {
		seq++
		r := rec("st", seq, kind, session, step)
		r.TraceID = trace
		batch = append(batch, r)
	}
	add(KindSessionOpen, "s1", 0, "")
	add(KindStep, "s1", 1, "t1")
	add(KindStepResult, "s1", 1, "")
	add(KindStep, "s1", 2, "t2")
	add(KindSessionOpen, "s2", 0, "")
	add(KindStep, "s2", 1, "t1")
	add(KindStep, "s2", 2, "t1")
	add(KindStepResult, "s2", 2, "")
	add(KindStep, "s2", 3, "")
	if err := s.Append(ctx, batch); err != nil {
		t.Fatal(err)
	}
	keys := func(q StepQuery) []string {
		recs, err := s.StepRecords(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range recs {
			out = append(out, fmt.Sprintf("%s/%d/%s", r.Session, r.Step, r.Kind))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    StepQuery
		want []string
	}{
		{"trace across sessions", StepQuery{TraceID: "t1"}, []string{"s1/1/step", "s1/1/step_result", "s2/1/step", "s2/2/step", "s2/2/step_result"}},
		{"trace newest two", StepQuery{TraceID: "t1", Limit: 2}, []string{"s2/1/step", "s2/2/step", "s2/2/step_result"}},
		{"trace wins over session", StepQuery{TraceID: "t2", Session: "s2"}, []string{"s1/2/step"}},
		{"session", StepQuery{Session: "s2"}, []string{"s2/1/step", "s2/2/step", "s2/2/step_result", "s2/3/step"}},
		{"none", StepQuery{TraceID: "nope"}, nil},
	} {
		if got := keys(tc.q); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
