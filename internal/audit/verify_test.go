package audit

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/gate"
	"github.com/gatehouse/gatehouse/internal/store"
)

// fillChain records a realistic 8-record chain: open, 3 steps with results, close.
func fillChain(t *testing.T, st store.Store, chain string) {
	r := newRecorder(t, st, chain)
	sid := "sess-" + chain
	record(t, r, openEvent(sid, "orders", "bot-"+chain, 0))
	for i := 1; i <= 3; i++ {
		record(t, r, stepEvent(sid, i, "SELECT 1", gate.Allow, "trace", time.Duration(i)*time.Second),
			resultEvent(sid, i, 1, time.Duration(i)*time.Second+time.Millisecond))
	}
	record(t, r, closeEvent(sid, "client quit", time.Minute))
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// rewrite sets a record's body and, optionally, recomputes its hash as a
// careful forger would.
func rewrite(t *testing.T, e engine, st store.Store, chain string, seq int64, mut func(*store.Record), rehash bool) store.Record {
	t.Helper()
	for _, r := range scan(t, st, chain) {
		if r.Seq != seq {
			continue
		}
		mut(&r)
		if rehash {
			r.Hash = hashRecord(&r)
		}
		e.exec(t, `UPDATE audit_records SET body = ?, prev_hash = ?, hash = ?, connection = ?, seq = ? WHERE chain = ? AND seq = ?`,
			r.Body, r.PrevHash, r.Hash, r.Connection, r.Seq, chain, seq)
		return r
	}
	t.Fatalf("no seq %d", seq)
	return store.Record{}
}

func TestVerify(t *testing.T) {
	type tamper func(t *testing.T, e engine, st store.Store)
	flipBody := func(r *store.Record) { r.Body = bytes.Replace(r.Body, []byte("SELECT 1"), []byte("SELECT 2"), 1) }
	cases := []struct {
		name    string
		tamper  tamper
		anchor  bool // pass the untampered head as an anchor
		wantSeq int64
		want    Reason // "" = clean
	}{
		{"clean", func(*testing.T, engine, store.Store) {}, true, 0, ""},
		{"body byte changed", func(t *testing.T, e engine, st store.Store) {
			rewrite(t, e, st, "a", 4, flipBody, false)
		}, false, 4, ReasonHash},
		{"middle record deleted", func(t *testing.T, e engine, st store.Store) {
			e.exec(t, `DELETE FROM audit_records WHERE chain = 'a' AND seq = 4`)
		}, false, 4, ReasonMissing},
		{"first record deleted", func(t *testing.T, e engine, st store.Store) {
			e.exec(t, `DELETE FROM audit_records WHERE chain = 'a' AND seq = 1`)
		}, false, 1, ReasonMissing},
		{"two records swapped", func(t *testing.T, e engine, st store.Store) {
			e.exec(t, `UPDATE audit_records SET seq = -3 WHERE chain = 'a' AND seq = 3`)
			e.exec(t, `UPDATE audit_records SET seq = 3 WHERE chain = 'a' AND seq = 4`)
			e.exec(t, `UPDATE audit_records SET seq = 4 WHERE chain = 'a' AND seq = -3`)
		}, false, 3, ReasonLink},
		{"record rewritten with a new hash", func(t *testing.T, e engine, st store.Store) {
			rewrite(t, e, st, "a", 4, flipBody, true)
		}, false, 5, ReasonLink},
		{"hash changed and the next record relinked", func(t *testing.T, e engine, st store.Store) {
			r4 := rewrite(t, e, st, "a", 4, func(r *store.Record) { r.Hash = bytes.Repeat([]byte{7}, 32) }, false)
			rewrite(t, e, st, "a", 5, func(r *store.Record) { r.PrevHash = r4.Hash }, true)
		}, false, 4, ReasonHash},
		{"index column changed", func(t *testing.T, e engine, st store.Store) {
			rewrite(t, e, st, "a", 1, func(r *store.Record) { r.Connection = "billing" }, false)
		}, false, 1, ReasonIndex},
		{"tail truncated, no anchor: undetectable", func(t *testing.T, e engine, st store.Store) {
			e.exec(t, `DELETE FROM audit_records WHERE chain = 'a' AND seq >= 7`)
		}, false, 0, ""},
		{"tail truncated, anchored", func(t *testing.T, e engine, st store.Store) {
			e.exec(t, `DELETE FROM audit_records WHERE chain = 'a' AND seq >= 7`)
		}, true, 8, ReasonTruncated},
		{"tail rewritten, no anchor: undetectable", func(t *testing.T, e engine, st store.Store) {
			forgeTail(t, e, st, 6)
		}, false, 0, ""},
		{"tail rewritten, anchored", func(t *testing.T, e engine, st store.Store) {
			forgeTail(t, e, st, 6)
		}, true, 8, ReasonAnchor},
	}
	for _, fac := range factories {
		t.Run(fac.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					ctx := context.Background()
					e := fac.make(t) // a fresh database per case
					st := e.open(t)
					fillChain(t, st, "a")
					fillChain(t, st, "b")
					before, err := Verify(ctx, st, "")
					if err != nil || !before.OK() || len(before.Chains) != 2 || before.Chains[0].Records != 8 {
						t.Fatalf("before tampering: %+v, %v", before, err)
					}
					anchorA := before.Chains[0].Head
					e.unlock(t)
					tc.tamper(t, e, st)

					var anchors []Head
					if tc.anchor {
						anchors = append(anchors, anchorA)
					}
					rep, err := Verify(ctx, st, "", anchors...)
					if err != nil {
						t.Fatal(err)
					}
					p := rep.First()
					switch {
					case tc.want == "" && p != nil:
						t.Fatalf("unexpected problem: %v", p)
					case tc.want != "" && p == nil:
						t.Fatalf("tampering not detected (want %s at seq %d)", tc.want, tc.wantSeq)
					case tc.want != "" && (p.Chain != "a" || p.Seq != tc.wantSeq || p.Reason != tc.want):
						t.Fatalf("first problem %v, want chain a seq %d %s", p, tc.wantSeq, tc.want)
					}
					if p != nil {
						t.Logf("%v", p)
					}
					// Chain b is untouched and verifies on its own.
					if rb, err := Verify(ctx, st, "b"); err != nil || !rb.OK() || rb.Chains[0].Records != 8 {
						t.Fatalf("chain b: %+v, %v", rb, err)
					}
					if c := rep.Chains[1]; c.Chain != "b" || c.Problem != nil || !bytes.Equal(c.Head.Hash, before.Chains[1].Head.Hash) {
						t.Fatalf("chain b in the full report: %+v", c)
					}
				})
			}
		})
	}
}

// forgeTail rewrites chain a from seq `from` to its head with consistent
// hashes: a valid chain that differs from the one recorded.
func forgeTail(t *testing.T, e engine, st store.Store, from int64) {
	recs := scan(t, st, "a")
	prev := recs[from-2].Hash
	for _, r := range recs[from-1:] {
		r.Body = bytes.Replace(r.Body, []byte(`"v":1`), []byte(`"v":1 `), 1)
		r.PrevHash = prev
		r.Hash = hashRecord(&r)
		prev = r.Hash
		e.exec(t, `UPDATE audit_records SET body = ?, prev_hash = ?, hash = ? WHERE chain = 'a' AND seq = ?`, r.Body, r.PrevHash, r.Hash, r.Seq)
	}
}

func TestVerifyAnchorOfMissingChain(t *testing.T) {
	st := sqliteEngine(t).open(t)
	fillChain(t, st, "a")
	rep, err := Verify(context.Background(), st, "", Head{Chain: "gone", Seq: 5, Hash: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.First(); p == nil || p.Chain != "gone" || p.Reason != ReasonTruncated {
		t.Fatalf("anchored chain that vanished: %v", p)
	}
}

func TestHeadString(t *testing.T) {
	h := Head{Chain: `node "1"`, Seq: 42, Hash: bytes.Repeat([]byte{0xab}, 32)}
	s := h.String()
	const want = `chain="node \"1\"" seq=42 sha256=abababababababababababababababababababababababababababababababab`
	if s != want {
		t.Fatalf("String = %s", s)
	}
	got, err := ParseHead(s)
	if err != nil || got.Chain != h.Chain || got.Seq != h.Seq || !bytes.Equal(got.Hash, h.Hash) {
		t.Fatalf("ParseHead = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "seq=1", `chain="a" seq=x sha256=00`, `chain="a" seq=1 sha256=abcd`, `chain=a seq=1 sha256=` + want[len(want)-64:]} {
		if _, err := ParseHead(bad); err == nil {
			t.Errorf("ParseHead(%q) accepted", bad)
		}
	}
}
