package store

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testenv"
)

// Cancel keys published on one Store of a PostgreSQL database reach every
// Store of it; SQLite relays nothing.
func TestCancelRelay(t *testing.T) {
	pg := testenv.SharedPostgres(t)
	db := pg.NewDatabase(t)
	url := fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable&synchronous_commit=on", db.User, db.Password, pg.Addr(), db.Name)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	keys, err := b.WatchCancels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte{0, 0, 0, 42, 1, 2, 3, 4}
	if err := a.PublishCancel(ctx, key); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-keys:
		if !bytes.Equal(got, key) {
			t.Fatalf("got %x, want %x", got, key)
		}
	case <-ctx.Done():
		t.Fatal("the published key never arrived")
	}
	st, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wctx, wcancel := context.WithCancel(ctx)
	none, err := st.WatchCancels(wctx)
	if err != nil || st.PublishCancel(ctx, key) != nil {
		t.Fatal(err)
	}
	wcancel()
	if _, ok := <-none; ok {
		t.Fatal("SQLite relayed a key")
	}
}
